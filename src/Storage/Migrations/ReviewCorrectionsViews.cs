namespace PaliGemma2.DocPipeline.Storage.Migrations;

/// <summary>
/// The task views of migration <c>ReviewCorrections</c>: the <c>TaskViews</c> columns unchanged, then the latest
/// accepted correction (<c>reviewed_*</c>, <c>reviewed_by</c>, <c>reviewed_at</c>; NULL while unreviewed).
/// Frozen with that migration: a later change to the views belongs in a new migration.
/// </summary>
internal static class ReviewCorrectionsViews
{
    /// <summary>Latest correction of result <c>r</c> as <c>rc</c>; the same SQL runs on both providers.</summary>
    private const string LatestCorrection = """
        LEFT JOIN result_corrections rc ON rc.id = (
            SELECT x.id FROM result_corrections x WHERE x.result_id = r.id ORDER BY x.reviewed_at DESC, x.id DESC LIMIT 1)
        """;

    /// <summary>
    /// <paramref name="verb"/> is <c>CREATE OR REPLACE VIEW</c> on PostgreSQL (keeps the reader role's grants; new
    /// columns go last) or <c>CREATE VIEW</c> after a drop on SQLite; <paramref name="j"/> reads a JSON text field.
    /// </summary>
    public static string Common(string verb, Func<string, string, string> j, Func<string, string, string> n, string studyUid, string cells) => $$"""
        {{verb}} table_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               {{j("r.payload", "html")}} AS html,
               {{n("r.payload", "rows")}} AS rows,
               {{n("r.payload", "cols")}} AS cols,
               {{cells}} AS cells,
               {{j("r.payload", "boxUnits")}} AS box_units,
               r.valid, r.validation_errors, r.created_at,
               {{j("rc.payload", "html")}} AS reviewed_html,
               rc.reviewed_by, rc.reviewed_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        {{LatestCorrection}}
        WHERE r.task = 'table';

        {{verb}} score_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               {{j("r.payload", "kern")}} AS kern,
               {{n("r.payload", "measures")}} AS measures,
               {{n("r.payload", "spines")}} AS spines,
               {{n("r.payload", "maxSpines")}} AS max_spines,
               {{n("r.payload", "notes")}} AS notes,
               r.valid AS is_valid, r.validation_errors, r.created_at,
               {{j("rc.payload", "kern")}} AS reviewed_kern,
               rc.reviewed_by, rc.reviewed_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        {{LatestCorrection}}
        WHERE r.task = 'score';

        {{verb}} report_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               {{j("r.payload", "findings")}} AS findings,
               {{j("r.payload", "impression")}} AS impression,
               {{studyUid}} AS study_instance_uid,
               rd.destination, rd.status AS delivery_status,
               rd.sr_sop_instance_uid, rd.sr_series_instance_uid,
               rd.sent_at AS sent_to_pacs_at,
               r.valid, r.validation_errors, r.created_at,
               {{j("rc.payload", "findings")}} AS reviewed_findings,
               {{j("rc.payload", "impression")}} AS reviewed_impression,
               rc.reviewed_by, rc.reviewed_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        LEFT JOIN report_deliveries rd ON rd.id = (
            SELECT x.id FROM report_deliveries x WHERE x.result_id = r.id
            ORDER BY CASE WHEN x.status = 'sent' THEN 0 ELSE 1 END, x.created_at DESC LIMIT 1)
        {{LatestCorrection}}
        WHERE r.task = 'report';
        """;

    /// <summary>PostgreSQL's molecule view; the reviewed SMILES is canonicalised by RDKit too.</summary>
    public const string PostgresMolecules = $$"""
        CREATE OR REPLACE VIEW molecule_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               coalesce(r.payload->>'smiles', btrim(r.raw_text)) AS smiles,
               m.canonical_smiles, m.is_valid, m.formula, m.mol, m.morgan_fp,
               r.valid, r.validation_errors, r.created_at,
               rc.payload->>'smiles' AS reviewed_smiles,
               mol_to_smiles(docpipe_parse_smiles(rc.payload->>'smiles'))::text AS reviewed_canonical_smiles,
               rc.reviewed_by, rc.reviewed_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        LEFT JOIN molecule_structures m ON m.result_id = r.id
        {{LatestCorrection}}
        WHERE r.task = 'molecule';
        """;

    /// <summary>SQLite's molecule view (no RDKit: canonical forms stay NULL).</summary>
    public const string SqliteMolecules = $$"""
        CREATE VIEW molecule_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               coalesce(json_extract(r.payload, '$.smiles'), trim(r.raw_text)) AS smiles,
               NULL AS canonical_smiles, NULL AS is_valid, NULL AS formula,
               r.valid, r.validation_errors, r.created_at,
               json_extract(rc.payload, '$.smiles') AS reviewed_smiles,
               NULL AS reviewed_canonical_smiles,
               rc.reviewed_by, rc.reviewed_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        {{LatestCorrection}}
        WHERE r.task = 'molecule';
        """;

    /// <summary>TaskViews' PostgreSQL molecule view, for going down.</summary>
    public const string PostgresMoleculesBefore = """
        CREATE VIEW molecule_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               coalesce(r.payload->>'smiles', btrim(r.raw_text)) AS smiles,
               m.canonical_smiles, m.is_valid, m.formula, m.mol, m.morgan_fp,
               r.valid, r.validation_errors, r.created_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        LEFT JOIN molecule_structures m ON m.result_id = r.id
        WHERE r.task = 'molecule';
        """;

    /// <summary>TaskViews' SQLite molecule view, for going down.</summary>
    public const string SqliteMoleculesBefore = """
        CREATE VIEW molecule_results AS
        SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
               r.checkpoint, r.checkpoint_version,
               coalesce(json_extract(r.payload, '$.smiles'), trim(r.raw_text)) AS smiles,
               NULL AS canonical_smiles, NULL AS is_valid, NULL AS formula,
               r.valid, r.validation_errors, r.created_at
        FROM results r
        JOIN jobs j ON j.id = r.job_id
        JOIN pages p ON p.id = j.page_id
        JOIN documents d ON d.id = j.document_id
        WHERE r.task = 'molecule';
        """;

    /// <summary>Drops the four views (SQLite cannot replace a view).</summary>
    public const string Drop = """
        DROP VIEW IF EXISTS report_results;
        DROP VIEW IF EXISTS score_results;
        DROP VIEW IF EXISTS molecule_results;
        DROP VIEW IF EXISTS table_results;
        """;
}
