-- Roles for SQL users. The schema itself is created by the application's EF Core migrations.
CREATE EXTENSION IF NOT EXISTS rdkit;

-- Read-only role for analysts: it will be granted SELECT on the task views (table_results,
-- molecule_results, score_results, report_results) by the migration that creates them, and nothing else.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docpipe_reader') THEN
    CREATE ROLE docpipe_reader NOLOGIN;
  END IF;
END
$$;
REVOKE ALL ON SCHEMA public FROM docpipe_reader;
GRANT USAGE ON SCHEMA public TO docpipe_reader;
-- Reviewed fields (migration ReviewCorrections) are columns of the same views: the reader sees them through
-- those grants and has no access to result_corrections itself.

-- PostgreSQL's PUBLIC defaults let every role create temporary tables and connect to every database, and
-- create large objects: the reader gets CONNECT on this database only, and nothing by way of PUBLIC.
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY, CONNECT ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO docpipe_reader', current_database());
END
$$;
REVOKE TEMPORARY, CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE TEMPORARY, CONNECT ON DATABASE template1 FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) FROM PUBLIC;
