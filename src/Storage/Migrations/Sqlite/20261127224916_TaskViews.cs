using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class TaskViews : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Task views for SQL users (DESIGN §4), embedded mode: JSON through json_extract. No RDKit here,
            // so molecules keep their SMILES and canonical form, formula and validity stay NULL ("unchecked").
            migrationBuilder.Sql(CommonViews("json_extract(d.metadata, '$.studyInstanceUid')", "json_extract(r.payload, '$.cells')") + """

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
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP VIEW IF EXISTS report_results;
                DROP VIEW IF EXISTS score_results;
                DROP VIEW IF EXISTS molecule_results;
                DROP VIEW IF EXISTS table_results;
                """);
        }

        /// <summary>The views whose SQL is the same on PostgreSQL and SQLite but for JSON access.</summary>
        internal static string CommonViews(string studyUid, string cells) => $$"""
            CREATE VIEW table_results AS
            SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
                   r.checkpoint, r.checkpoint_version,
                   {{J("r.payload", "html")}} AS html,
                   {{N("r.payload", "rows")}} AS rows,
                   {{N("r.payload", "cols")}} AS cols,
                   {{cells}} AS cells,
                   {{J("r.payload", "boxUnits")}} AS box_units,
                   r.valid, r.validation_errors, r.created_at
            FROM results r
            JOIN jobs j ON j.id = r.job_id
            JOIN pages p ON p.id = j.page_id
            JOIN documents d ON d.id = j.document_id
            WHERE r.task = 'table';

            CREATE VIEW score_results AS
            SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
                   r.checkpoint, r.checkpoint_version,
                   {{J("r.payload", "kern")}} AS kern,
                   {{N("r.payload", "measures")}} AS measures,
                   {{N("r.payload", "spines")}} AS spines,
                   {{N("r.payload", "maxSpines")}} AS max_spines,
                   {{N("r.payload", "notes")}} AS notes,
                   r.valid AS is_valid, r.validation_errors, r.created_at
            FROM results r
            JOIN jobs j ON j.id = r.job_id
            JOIN pages p ON p.id = j.page_id
            JOIN documents d ON d.id = j.document_id
            WHERE r.task = 'score';

            -- One row per report; the delivery shown is the accepted one if any, else the latest attempt.
            CREATE VIEW report_results AS
            SELECT r.id AS result_id, d.id AS document_id, d.file_name, p."index" AS page_index,
                   r.checkpoint, r.checkpoint_version,
                   {{J("r.payload", "findings")}} AS findings,
                   {{J("r.payload", "impression")}} AS impression,
                   {{studyUid}} AS study_instance_uid,
                   rd.destination, rd.status AS delivery_status,
                   rd.sr_sop_instance_uid, rd.sr_series_instance_uid,
                   rd.sent_at AS sent_to_pacs_at,
                   r.valid, r.validation_errors, r.created_at
            FROM results r
            JOIN jobs j ON j.id = r.job_id
            JOIN pages p ON p.id = j.page_id
            JOIN documents d ON d.id = j.document_id
            LEFT JOIN report_deliveries rd ON rd.id = (
                SELECT x.id FROM report_deliveries x WHERE x.result_id = r.id
                ORDER BY CASE WHEN x.status = 'sent' THEN 0 ELSE 1 END, x.created_at DESC LIMIT 1)
            WHERE r.task = 'report';
            """;

        private static string J(string column, string key) => $"json_extract({column}, '$.{key}')";

        private static string N(string column, string key) => $"CAST(json_extract({column}, '$.{key}') AS INTEGER)";
    }
}
