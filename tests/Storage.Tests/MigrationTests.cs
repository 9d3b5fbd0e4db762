using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Storage.Tests;

/// <summary>What both providers' migrations must produce; each subclass runs these on its own database.</summary>
public abstract class MigrationTests
{
    private static readonly string[] Tables = ["checkpoints", "documents", "intake_cursors", "jobs", "pages", "report_deliveries", "results"];

    private protected abstract DocPipelineDbContext NewContext();

    /// <summary>(table, column, type) for every column of the pipeline's tables.</summary>
    private protected abstract Task<List<(string Table, string Column, string Type)>> ColumnsAsync(DocPipelineDbContext db);

    private protected abstract Task<List<string>> TableNamesAsync(DocPipelineDbContext db);

    private protected abstract void AssertUniqueViolation(DbUpdateException ex);

    private protected abstract string JsonType { get; }

    /// <summary>Tables only one provider has (PostgreSQL keeps RDKit molecules for molecule_results in molecule_structures).</summary>
    private protected virtual string[] ProviderTables => [];

    [Fact]
    public async Task Migrate_applies_every_migration_and_leaves_none_pending()
    {
        await using var db = NewContext();
        Assert.NotEmpty(db.Database.GetMigrations());
        Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());

        // Running it again (every process does at start-up) is a no-op.
        await db.Database.MigrateAsync();
        Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
    }

    [Fact]
    public async Task Migrate_creates_the_five_snake_case_tables()
    {
        await using var db = NewContext();
        var tables = (await TableNamesAsync(db)).Where(t => !t.StartsWith("__EFMigrations", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(Tables.Concat(ProviderTables).Order(StringComparer.Ordinal), tables);
    }

    [Fact]
    public async Task Every_column_is_snake_case()
    {
        await using var db = NewContext();
        var columns = await ColumnsAsync(db);
        Assert.Equal(Tables, columns.Select(c => c.Table).Distinct().Order(StringComparer.Ordinal));
        Assert.All(columns, c => Assert.Matches("^[a-z][a-z0-9]*(_[a-z0-9]+)*$", c.Column));

        Assert.Equal(
            ["error", "file_name", "id", "media_type", "metadata", "reason_code", "received_at", "sha256", "size_bytes", "sop_instance_uid", "source", "status", "task"],
            columns.Where(c => c.Table == "documents").Select(c => c.Column).Order(StringComparer.Ordinal));
        Assert.Contains(columns, c => c is { Table: "pages", Column: "document_id" });
        Assert.Contains(columns, c => c is { Table: "pages", Column: "image_blob_key" });
        Assert.Contains(columns, c => c is { Table: "jobs", Column: "enqueued_at" });
        Assert.Contains(columns, c => c is { Table: "results", Column: "job_id" });
        Assert.Contains(columns, c => c is { Table: "checkpoints", Column: "max_new_tokens" });
    }

    [Fact]
    public async Task Json_columns_have_the_provider_json_type()
    {
        await using var db = NewContext();
        var columns = await ColumnsAsync(db);
        foreach (var (table, column) in new[] { ("documents", "metadata"), ("pages", "text_layer"), ("results", "payload"), ("results", "validation_errors") })
        {
            var found = Assert.Single(columns, c => c.Table == table && c.Column == column);
            Assert.Equal(JsonType, found.Type, ignoreCase: true);
        }
    }

    [Fact]
    public async Task Status_is_stored_as_lower_case_text()
    {
        var doc = NewDocument(RandomSha(), "table");
        doc.Status = DocumentStatus.Queued;
        await InsertAsync(doc);

        await using var db = NewContext();
        var rows = await Contexts.QueryAsync(db, $"SELECT status FROM documents WHERE sha256 = '{doc.Sha256}'");
        Assert.Equal("queued", Assert.Single(rows)[0]);
        Assert.Equal(DocumentStatus.Queued, (await db.Documents.SingleAsync(d => d.Id == doc.Id)).Status);
    }

    [Fact]
    public async Task Duplicate_sha256_for_the_same_task_is_rejected_by_the_unique_index()
    {
        var sha = RandomSha();
        await InsertAsync(NewDocument(sha, "table"));

        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => InsertAsync(NewDocument(sha, "table")));

        AssertUniqueViolation(ex);
        await using var db = NewContext();
        Assert.Equal(1, await db.Documents.CountAsync(d => d.Sha256 == sha));
    }

    [Fact]
    public async Task Same_sha256_for_another_task_is_accepted()
    {
        var sha = RandomSha();
        await InsertAsync(NewDocument(sha, "table"));
        await InsertAsync(NewDocument(sha, "molecule"));

        await using var db = NewContext();
        Assert.Equal(["molecule", "table"], await db.Documents.Where(d => d.Sha256 == sha).Select(d => d.Task).OrderBy(t => t).ToListAsync());
    }

    [Fact]
    public async Task Second_result_for_the_same_job_is_rejected_by_the_unique_index()
    {
        var doc = NewDocument(RandomSha(), "table");
        var page = new Page { Id = Guid.CreateVersion7(), DocumentId = doc.Id, Index = 0, Width = 896, Height = 896, ImageBlobKey = RandomSha() };
        var job = new Job { Id = Guid.CreateVersion7(), PageId = page.Id, DocumentId = doc.Id, Task = "table", EnqueuedAt = DateTimeOffset.UtcNow };
        await using (var db = NewContext())
        {
            db.AddRange(doc, page, job, NewResult(job.Id));
            await db.SaveChangesAsync();
        }

        await using var again = NewContext();
        again.Add(NewResult(job.Id));
        AssertUniqueViolation(await Assert.ThrowsAsync<DbUpdateException>(() => again.SaveChangesAsync()));
    }

    private protected async Task InsertAsync(Document document)
    {
        await using var db = NewContext();
        db.Documents.Add(document);
        await db.SaveChangesAsync();
    }

    private protected static Document NewDocument(string sha, string task) => new()
    {
        Id = Guid.CreateVersion7(),
        Sha256 = sha,
        FileName = "report.pdf",
        MediaType = "application/pdf",
        Source = "api",
        Task = task,
        Status = DocumentStatus.Received,
        ReceivedAt = DateTimeOffset.UtcNow,
        SizeBytes = 1234,
        Metadata = """{"pageCount": 3, "producer": "LibreOffice"}""",
    };

    private static Result NewResult(Guid jobId) => new()
    {
        Id = Guid.CreateVersion7(),
        JobId = jobId,
        Task = "table",
        Checkpoint = "toy",
        CheckpointVersion = "1.0.0",
        PromptPrefix = "",
        RawText = "<table></table>",
        Payload = """{"html": "<table></table>"}""",
        Valid = true,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    private protected static string RandomSha() => Convert.ToHexStringLower(SHA256.HashData(Guid.NewGuid().ToByteArray()));
}

/// <summary>PostgreSQL migrations on the real server started by scripts/test.sh.</summary>
public sealed class PostgresMigrationTests(PostgresDatabase database) : MigrationTests, IClassFixture<PostgresDatabase>
{
    private protected override string JsonType => "jsonb";

    private protected override string[] ProviderTables => ["molecule_structures"];

    private protected override DocPipelineDbContext NewContext() => Contexts.Postgres(database.ConnectionString);

    private protected override async Task<List<string>> TableNamesAsync(DocPipelineDbContext db) =>
        (await Contexts.QueryAsync(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"))
            .Select(r => r[0]!).ToList();

    private protected override async Task<List<(string Table, string Column, string Type)>> ColumnsAsync(DocPipelineDbContext db) =>
        (await Contexts.QueryAsync(db, """
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name IN ('documents', 'pages', 'jobs', 'results', 'checkpoints', 'report_deliveries', 'intake_cursors')
            """)).Select(r => (r[0]!, r[1]!, r[2]!)).ToList();

    private protected override void AssertUniqueViolation(DbUpdateException ex)
    {
        var pg = Assert.IsType<PostgresException>(ex.InnerException);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, pg.SqlState);
        Assert.Equal("23505", pg.SqlState);
    }

    [Fact]
    public async Task Unique_index_on_sha256_and_task_exists_with_its_snake_case_name()
    {
        await using var db = NewContext();
        var rows = await Contexts.QueryAsync(db, "SELECT indexdef FROM pg_indexes WHERE tablename = 'documents' AND indexname = 'ix_documents_sha256_task'");
        Assert.Equal("CREATE UNIQUE INDEX ix_documents_sha256_task ON public.documents USING btree (sha256, task)", Assert.Single(rows)[0]);
    }

    [Fact]
    public async Task Metadata_that_is_not_json_is_rejected_by_jsonb()
    {
        var doc = NewDocument(RandomSha(), "table");
        doc.Metadata = "{not json";
        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => InsertAsync(doc));
        Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, Assert.IsType<PostgresException>(ex.InnerException).SqlState);
    }

    [Fact]
    public async Task Metadata_is_queryable_with_jsonb_operators()
    {
        var doc = NewDocument(RandomSha(), "table");
        await InsertAsync(doc);
        await using var db = NewContext();
        var rows = await Contexts.QueryAsync(db, $"SELECT metadata->>'producer', (metadata->>'pageCount')::int + 1 FROM documents WHERE sha256 = '{doc.Sha256}'");
        Assert.Equal(new string?[] { "LibreOffice", "4" }, Assert.Single(rows));
    }
}

/// <summary>SQLite migrations (embedded mode) on a temporary file.</summary>
public sealed class SqliteMigrationTests(SqliteDatabase database) : MigrationTests, IClassFixture<SqliteDatabase>
{
    private protected override string JsonType => "TEXT";

    private protected override DocPipelineDbContext NewContext() => Contexts.Sqlite(database.ConnectionString);

    private protected override async Task<List<string>> TableNamesAsync(DocPipelineDbContext db) =>
        (await Contexts.QueryAsync(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
            .Select(r => r[0]!).ToList();

    private protected override async Task<List<(string Table, string Column, string Type)>> ColumnsAsync(DocPipelineDbContext db) =>
        (await Contexts.QueryAsync(db, """
            SELECT m.name, c.name, c.type FROM sqlite_master m JOIN pragma_table_info(m.name) c
            WHERE m.type = 'table' AND m.name IN ('documents', 'pages', 'jobs', 'results', 'checkpoints', 'report_deliveries', 'intake_cursors')
            """)).Select(r => (r[0]!, r[1]!, r[2]!)).ToList();

    private protected override void AssertUniqueViolation(DbUpdateException ex)
    {
        var sqlite = Assert.IsType<SqliteException>(ex.InnerException);
        Assert.Equal(19, sqlite.SqliteErrorCode);          // SQLITE_CONSTRAINT
        Assert.Equal(2067, sqlite.SqliteExtendedErrorCode); // SQLITE_CONSTRAINT_UNIQUE
    }

    [Fact]
    public async Task Unique_index_on_sha256_and_task_exists_with_its_snake_case_name()
    {
        await using var db = NewContext();
        var rows = await Contexts.QueryAsync(db, "SELECT \"unique\" FROM pragma_index_list('documents') WHERE name = 'ix_documents_sha256_task'");
        Assert.Equal("1", Assert.Single(rows)[0]);
        var columns = await Contexts.QueryAsync(db, "SELECT name FROM pragma_index_info('ix_documents_sha256_task') ORDER BY seqno");
        Assert.Equal(["sha256", "task"], columns.Select(r => r[0]));
    }
}
