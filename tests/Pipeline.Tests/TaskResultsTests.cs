using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tasks;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>
/// Task results on real PostgreSQL + RDKit: the demo checkpoints' noise is stored as invalid with its
/// reasons, hand-made outputs in the papers' formats fill the views, RDKit checks and searches SMILES,
/// the reader role sees the views only, and every query of the README's "Task results in SQL" runs.
/// </summary>
public sealed partial class TaskResultsTests : IAsyncLifetime
{
    private const string Aspirin = "CC(=O)Oc1ccccc1C(=O)O";
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("taskresults", new Dictionary<string, string?>
    {
        ["Inference:Tasks:table"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "table"),
        ["Inference:Tasks:molecule"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "molecule"),
        ["Preparation:DefaultResolution"] = "224",
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Results_fill_the_views_rdkit_checks_smiles_and_every_readme_query_runs()
    {
        // 1. The real pipeline with the toy checkpoints: noise is stored, as invalid, with the reasons.
        var table = await _host.IngestAsync(Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.pdf"), TaskNames.Table);
        var molecule = await _host.IngestAsync(Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.png"), TaskNames.Molecule);
        Assert.True(await TestServices.EventuallyAsync(async () =>
            (await _host.WithDbAsync(db => db.Documents.AsNoTracking().Where(d => d.Id == table.DocumentId || d.Id == molecule.DocumentId).ToListAsync()))
                .All(d => d.Status == DocumentStatus.Done), TimeSpan.FromSeconds(120)));
        var noise = await _host.WithDbAsync(db => db.Results.AsNoTracking().ToListAsync());
        Assert.Equal(2, noise.Count);
        Assert.All(noise, r =>
        {
            Assert.False(r.Valid, r.RawText);
            Assert.NotEmpty(JsonSerializer.Deserialize<string[]>(r.ValidationErrors!)!);
            using var payload = JsonDocument.Parse(r.Payload!);
            Assert.Equal(r.RawText, payload.RootElement.GetProperty("text").GetString());
        });
        // The worker loaded the page: a born-digital PDF page's boxes are in PDF points (its text layer was read).
        using (var tablePayload = JsonDocument.Parse(noise.Single(r => r.Task == TaskNames.Table).Payload!))
        {
            Assert.Equal("pt", tablePayload.RootElement.GetProperty("boxUnits").GetString());
        }

        // 2. Hand-made outputs in the papers' formats.
        const string tableHtml = "<table><thead><tr><th coords=\"<loc0100><loc0100><loc0500><loc0200>\">Region</th><th colspan=\"2\">Revenue</th></tr></thead>"
            + "<tbody><tr><td>North</td><td>1</td><td>2</td></tr></tbody></table>";
        var tableResult = await StoreAsync("table", "table_html", tableHtml);
        var benzene = await StoreAsync("molecule", "smiles", "C1=CC=CC=C1");
        var aspirin = await StoreAsync("molecule", "smiles", "OC(=O)c1ccccc1OC(C)=O");
        var ethanol = await StoreAsync("molecule", "smiles", "OCC");
        var pentavalent = await StoreAsync("molecule", "smiles", "CC(C)(C)(C)C"); // syntax fine, chemistry not
        await StoreAsync("score", "kern", "**kern\t**kern\n=1\t=1\n4c\t4e\n*\t*^\n4d\t4f\t4a\n*\t*v\t*v\n2c\t2g\n==\t==\n*-\t*-");
        var report = await StoreAsync("report", "report_sections", "FINDINGS: Lungs are clear. No effusion. IMPRESSION: No acute process.",
            metadata: """{"studyInstanceUid":"1.2.826.0.1.3680043.10.1.7"}""");
        await _host.WithDbAsync(async db =>
        {
            db.ReportDeliveries.Add(new ReportDelivery
            {
                Id = Guid.CreateVersion7(), ResultId = report, Destination = "orthanc", SrSopInstanceUid = "1.2.826.0.1.3680043.10.1.8",
                SrSeriesInstanceUid = "1.2.826.0.1.3680043.10.1.9", Status = DeliveryStatus.Sent, Attempts = 1,
                SentAt = DateTimeOffset.UtcNow, CreatedAt = DateTimeOffset.UtcNow,
            });
            return await db.SaveChangesAsync();
        });

        var cs = await _host.WithDbAsync(db => Task.FromResult(db.Database.GetConnectionString()!));
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();

        // RDKit: canonical forms, formula, validity; a SMILES RDKit rejects makes the result invalid.
        Assert.Equal(("c1ccccc1", "C6H6", true), await MoleculeAsync(conn, benzene));
        Assert.Equal(("CC(=O)Oc1ccccc1C(=O)O", "C9H8O4", true), await MoleculeAsync(conn, aspirin));
        Assert.Equal(("CCO", "C2H6O", true), await MoleculeAsync(conn, ethanol));
        Assert.Equal((null, null, false), await MoleculeAsync(conn, pentavalent));
        var rejected = await _host.WithDbAsync(db => db.Results.AsNoTracking().SingleAsync(r => r.Id == pentavalent));
        Assert.False(rejected.Valid);
        Assert.Contains("RDKit", rejected.ValidationErrors, StringComparison.Ordinal);
        Assert.True((await _host.WithDbAsync(db => db.Results.AsNoTracking().SingleAsync(r => r.Id == aspirin))).Valid);

        // Substructure and similarity return the right rows.
        Assert.Equal(new[] { aspirin, benzene }.Order(), (await IdsAsync(conn, "select result_id from molecule_results where mol @> 'c1ccccc1'::mol")).Order());
        Assert.Equal([aspirin], await IdsAsync(conn, $"select result_id from molecule_results where morgan_fp % morganbv_fp('{Aspirin}'::mol)"));

        // The other views.
        await using (var cmd = new NpgsqlCommand($"select rows, cols, html, cells->0->>'text', box_units from table_results where result_id = '{tableResult}'", conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal((2, 3, "px"), (reader.GetInt32(0), reader.GetInt32(1), reader.GetString(4)));
            Assert.StartsWith("<table><thead><tr><th>Region</th><th colspan=\"2\">Revenue</th>", reader.GetString(2), StringComparison.Ordinal);
            Assert.Equal("Region", reader.GetString(3));
        }

        Assert.Equal("2|3|1|7|t", await ScalarAsync(conn, "select concat_ws('|', spines, max_spines, measures, notes, is_valid) from score_results"));
        Assert.Equal("Lungs are clear. No effusion.|No acute process.|1.2.826.0.1.3680043.10.1.7|1.2.826.0.1.3680043.10.1.8|sent",
            await ScalarAsync(conn, "select concat_ws('|', findings, impression, study_instance_uid, sr_sop_instance_uid, delivery_status) from report_results where sent_to_pacs_at is not null"));

        // The reader role: the four views, nothing else.
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await ExecAsync(conn, "set local role docpipe_reader");
            foreach (var view in new[] { "table_results", "molecule_results", "score_results", "report_results" })
            {
                await ExecAsync(conn, $"select count(*) from {view}");
            }

            await tx.RollbackAsync();
        }

        foreach (var tableName in new[] { "results", "documents", "molecule_structures" })
        {
            await using var tx = await conn.BeginTransactionAsync();
            await ExecAsync(conn, "set local role docpipe_reader");
            var denied = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, $"select count(*) from {tableName}"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
            await tx.RollbackAsync();
        }

        // Every README query of "Task results in SQL" runs and returns rows.
        var readme = await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "README.md"));
        var block = SqlBlock().Match(readme.Split("## Task results in SQL")[1]).Groups[1].Value;
        var queries = block.Split(';').Select(q => string.Join('\n', q.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal))).Trim())
            .Where(q => q.Length > 0).ToList();
        Assert.True(queries.Count >= 8, $"found {queries.Count} queries");
        foreach (var q in queries)
        {
            await using var tx = await conn.BeginTransactionAsync();
            await ExecAsync(conn, "set local role docpipe_reader"); // what SQL users run them as
            await using (var cmd = new NpgsqlCommand(q, conn, tx))
            await using (var reader = await cmd.ExecuteReaderAsync())
            {
                Assert.True(await reader.ReadAsync(), $"no rows from: {q}");
            }

            await tx.RollbackAsync();
        }

        // The operator queries of README "Querying results" and deploy/orthanc/README.md read the tables
        // themselves: the docs name the role that owns the schema (the one that ran the migrations, this
        // connection's), and that role runs every one of them.
        var documentId = await ScalarAsync(conn, "select id::text from documents limit 1");
        var deploy = await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "deploy", "orthanc", "README.md"));
        Assert.Contains("owns the schema", readme.Split("## Querying results")[1].Split("```sql")[0], StringComparison.Ordinal);
        Assert.Contains("owns the schema", deploy.Split("```sql")[0], StringComparison.Ordinal);
        var ownerQueries = SqlBlock().Matches(readme.Split("## Querying results")[1].Split("## Task results in SQL")[0])
            .Concat(SqlBlock().Matches(deploy))
            .SelectMany(m => m.Groups[1].Value.Split(';'))
            .Select(q => string.Join('\n', q.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal))).Trim())
            .Where(q => q.Length > 0).Select(q => q.Replace("'<id>'", $"'{documentId}'", StringComparison.Ordinal)).ToList();
        Assert.True(ownerQueries.Count >= 7, $"found {ownerQueries.Count} operator queries");
        foreach (var q in ownerQueries)
        {
            await using var cmd = new NpgsqlCommand(q, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
            }
        }
    }

    private Task<Guid> StoreAsync(string task, string postProcessor, string text, string? metadata = null) => StoreAsync(_host, task, postProcessor, text, metadata);

    /// <summary>Stores a result for a fresh document/page/job, post-processed as the worker does.</summary>
    internal static async Task<Guid> StoreAsync(PipelineHost host, string task, string postProcessor, string text, string? metadata = null)
    {
        var processed = TaskPostProcessor.Process(postProcessor, text, new PostProcessingContext { Resolution = 224, ImageWidth = 224, ImageHeight = 224, StopReason = "EndOfSequence" });
        var doc = new Document
        {
            Id = Guid.CreateVersion7(), Sha256 = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()).PadRight(64, '0'), FileName = $"{task}-{Guid.NewGuid():N}.png",
            MediaType = "image/png", Source = "cli", Task = task, Status = DocumentStatus.Done, ReceivedAt = DateTimeOffset.UtcNow, Metadata = metadata,
        };
        var page = new Page { Id = Guid.CreateVersion7(), DocumentId = doc.Id, Index = 0, Width = 224, Height = 224, ImageBlobKey = new string('c', 64) };
        var job = new Job { Id = Guid.CreateVersion7(), DocumentId = doc.Id, PageId = page.Id, Task = task, Status = JobStatus.Done, EnqueuedAt = DateTimeOffset.UtcNow };
        var result = new Result
        {
            Id = Guid.CreateVersion7(), JobId = job.Id, Task = task, Checkpoint = "hand-made", CheckpointVersion = "1", PromptPrefix = "", RawText = text,
            Payload = processed.PayloadJson, Valid = processed.Valid, ValidationErrors = processed.ErrorsJson, CreatedAt = DateTimeOffset.UtcNow,
        };
        Assert.True(processed.Valid, string.Join("; ", processed.Errors));
        await host.WithDbAsync(async db =>
        {
            db.Documents.Add(doc);
            db.Pages.Add(page);
            db.Jobs.Add(job);
            db.Results.Add(result);
            return await db.SaveChangesAsync();
        });
        return result.Id;
    }

    private static async Task<(string?, string?, bool?)> MoleculeAsync(NpgsqlConnection conn, Guid id)
    {
        await using var cmd = new NpgsqlCommand($"select canonical_smiles, formula, is_valid from molecule_results where result_id = '{id}'", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetBoolean(2));
    }

    private static async Task<List<Guid>> IdsAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private static async Task<string?> ScalarAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (await cmd.ExecuteScalarAsync())?.ToString();
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
        }
    }

    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();
}

/// <summary>Embedded mode: the same views over SQLite JSON; molecules are stored unchecked.</summary>
public sealed class SqliteTaskViewTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartEmbeddedAsync("taskviews-sqlite");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Views_read_the_payloads_and_leave_molecules_unchecked()
    {
        await TaskResultsTests.StoreAsync(_host, "table", "table_html", "<table><tr><td>a</td><td colspan=\"2\">b</td></tr></table>");
        await TaskResultsTests.StoreAsync(_host, "molecule", "smiles", "OCC");
        await TaskResultsTests.StoreAsync(_host, "score", "kern", "**kern\n=1\n4c\n*-");
        await TaskResultsTests.StoreAsync(_host, "report", "report_sections", "Findings: clear. Impression: normal.", """{"studyInstanceUid":"1.2.3"}""");
        var rows = await _host.WithDbAsync(async db =>
        {
            var conn = db.Database.GetDbConnection();
            await conn.OpenAsync();
            var results = new List<string>();
            foreach (var sql in new[]
            {
                "select rows || '|' || cols || '|' || html from table_results",
                "select smiles || '|' || coalesce(canonical_smiles, 'unchecked') || '|' || coalesce(is_valid, 'null') from molecule_results",
                "select spines || '|' || measures || '|' || notes || '|' || is_valid from score_results",
                "select findings || '|' || impression || '|' || study_instance_uid || '|' || coalesce(sent_to_pacs_at, 'not sent') from report_results",
            })
            {
                await using var cmd = conn.CreateCommand();
                cmd.CommandText = sql;
                results.Add((await cmd.ExecuteScalarAsync())?.ToString() ?? "<none>");
            }

            return results;
        });
        Assert.Equal(
        [
            "1|3|<table><tbody><tr><td>a</td><td colspan=\"2\">b</td></tr></tbody></table>",
            "OCC|unchecked|null",
            "1|1|1|1",
            "clear.|normal.|1.2.3|not sent",
        ], rows);
    }
}
