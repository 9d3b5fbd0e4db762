using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace PaliGemma2.DocPipeline.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class TaskViews : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Task views for SQL users (DESIGN §4). Views are not part of the EF model: raw SQL per provider.
            // RDKit cartridge: validity, canonical SMILES, formula, substructure and similarity search.
            migrationBuilder.Sql("CREATE EXTENSION IF NOT EXISTS rdkit;");

            // A view cannot be indexed, so the RDKit molecule and its Morgan fingerprint live in a table kept
            // by triggers on results; molecule_results joins it and the GiST indexes serve @> and tanimoto_sml.
            migrationBuilder.Sql("""
                CREATE TABLE molecule_structures (
                    result_id uuid PRIMARY KEY REFERENCES results(id) ON DELETE CASCADE,
                    smiles text NOT NULL,
                    mol mol NULL,
                    canonical_smiles text NULL,
                    formula text NULL,
                    morgan_fp bfp NULL,
                    is_valid boolean NOT NULL
                );
                CREATE INDEX ix_molecule_structures_mol ON molecule_structures USING gist (mol);
                CREATE INDEX ix_molecule_structures_morgan_fp ON molecule_structures USING gist (morgan_fp);

                -- mol_from_smiles returns NULL for what RDKit cannot parse; the exception block keeps any
                -- other RDKit complaint from failing the insert of a result (noise must be stored, as invalid).
                CREATE FUNCTION docpipe_parse_smiles(s text) RETURNS mol LANGUAGE plpgsql IMMUTABLE AS $fn$
                BEGIN
                    IF s IS NULL OR btrim(s) = '' THEN RETURN NULL; END IF;
                    RETURN mol_from_smiles(btrim(s)::cstring);
                EXCEPTION WHEN others THEN
                    RETURN NULL;
                END
                $fn$;

                -- Before the row is written: a SMILES RDKit rejects makes the result invalid, with the reason.
                CREATE FUNCTION docpipe_molecule_validity() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    IF NEW.task = 'molecule' AND NEW.valid AND docpipe_parse_smiles(NEW.payload->>'smiles') IS NULL THEN
                        NEW.valid := false;
                        NEW.validation_errors := coalesce(NEW.validation_errors, '[]'::jsonb) || jsonb_build_array('RDKit cannot parse the SMILES.');
                    END IF;
                    RETURN NEW;
                END
                $fn$;

                -- After it is written (the foreign key needs the row): the structure row, kept in step on updates.
                CREATE FUNCTION docpipe_molecule_structure() RETURNS trigger LANGUAGE plpgsql AS $fn$
                DECLARE
                    s text := btrim(coalesce(NEW.payload->>'smiles', NEW.raw_text));
                    m mol := docpipe_parse_smiles(s);
                BEGIN
                    IF NEW.task <> 'molecule' THEN RETURN NULL; END IF;
                    INSERT INTO molecule_structures (result_id, smiles, mol, canonical_smiles, formula, morgan_fp, is_valid)
                    VALUES (NEW.id, s, m, mol_to_smiles(m)::text, mol_formula(m)::text, morganbv_fp(m), m IS NOT NULL)
                    ON CONFLICT (result_id) DO UPDATE SET smiles = EXCLUDED.smiles, mol = EXCLUDED.mol,
                        canonical_smiles = EXCLUDED.canonical_smiles, formula = EXCLUDED.formula,
                        morgan_fp = EXCLUDED.morgan_fp, is_valid = EXCLUDED.is_valid;
                    RETURN NULL;
                END
                $fn$;

                CREATE TRIGGER tr_results_molecule_validity BEFORE INSERT OR UPDATE OF payload, valid ON results
                    FOR EACH ROW WHEN (NEW.task = 'molecule') EXECUTE FUNCTION docpipe_molecule_validity();
                CREATE TRIGGER tr_results_molecule_structure AFTER INSERT OR UPDATE OF payload, raw_text ON results
                    FOR EACH ROW WHEN (NEW.task = 'molecule') EXECUTE FUNCTION docpipe_molecule_structure();

                -- Molecule results stored before this migration.
                INSERT INTO molecule_structures (result_id, smiles, mol, canonical_smiles, formula, morgan_fp, is_valid)
                SELECT r.id, btrim(coalesce(r.payload->>'smiles', r.raw_text)), x.m, mol_to_smiles(x.m)::text, mol_formula(x.m)::text, morganbv_fp(x.m), x.m IS NOT NULL
                FROM results r CROSS JOIN LATERAL (SELECT docpipe_parse_smiles(coalesce(r.payload->>'smiles', r.raw_text)) AS m) x
                WHERE r.task = 'molecule';
                """);

            migrationBuilder.Sql(CommonViews("d.metadata->>'studyInstanceUid'", "r.payload->'cells'") + """

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
                """);

            // The read-only role sees the four views and nothing else (views run with their owner's rights).
            migrationBuilder.Sql("""
                DO $do$
                BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docpipe_reader') THEN
                        CREATE ROLE docpipe_reader NOLOGIN;
                    END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL; -- roles are cluster-wide: another database's migration created it at the same moment
                END
                $do$;
                DO $do$
                BEGIN
                    EXECUTE format('GRANT USAGE ON SCHEMA %I TO docpipe_reader', current_schema());
                END
                $do$;
                GRANT SELECT ON table_results, molecule_results, score_results, report_results TO docpipe_reader;
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
                DROP TRIGGER IF EXISTS tr_results_molecule_structure ON results;
                DROP TRIGGER IF EXISTS tr_results_molecule_validity ON results;
                DROP FUNCTION IF EXISTS docpipe_molecule_structure();
                DROP FUNCTION IF EXISTS docpipe_molecule_validity();
                DROP TABLE IF EXISTS molecule_structures;
                DROP FUNCTION IF EXISTS docpipe_parse_smiles(text);
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

        private static string J(string column, string key) => $"{column}->>'{key}'";

        private static string N(string column, string key) => $"({column}->>'{key}')::integer";
    }
}
