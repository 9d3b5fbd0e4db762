using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tasks;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// The review page in Debian's chromium (playwright-core, tests/ui/review.test.mjs) against the Api process over real
/// PostgreSQL + RDKit: results are the real post-processors' payloads of known model text, so every expected
/// number (cells, notes, counts) comes from that text or from PostgreSQL, not from the page or the Api.
/// </summary>
public sealed class ReviewPageTests : IAsyncLifetime
{
    private const string Key = "review-key-51c2";
    private const string Reviewer = "Dr Reviewer";
    private Dictionary<string, string> _env = null!;
    private string _root = null!;
    private string _postgres = null!;

    public async Task InitializeAsync()
    {
        _root = TestServices.NewTempDirectory("review");
        (_env, _, _postgres) = await ServiceProcess.DistributedEnvironmentAsync("review", _root);
        _env["Api__Keys__0"] = Key;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Review_page_shows_each_task_in_chromium_and_a_correction_reaches_postgres_and_export_gold()
    {
        var (api, client) = await ServiceProcess.StartApiAsync(_env, Key);
        await using var _ = api;
        using var __ = client;
        var seeded = await SeedAsync();

        var expect = new Dictionary<string, object>
        {
            ["reviewer"] = Reviewer,
            ["documents"] = await CountAsync("select count(*) from documents"),
            ["byStatus"] = new Dictionary<string, long>
            {
                ["done"] = await CountAsync("select count(*) from documents where status = 'done'"),
                ["failed"] = await CountAsync("select count(*) from documents where status = 'failed'"),
            },
            ["invalidResults"] = await CountAsync("select count(*) from results where not valid"),
            ["failedReason"] = "truncated",
            ["documentsWithInvalidResults"] = await CountAsync("select count(distinct j.document_id) from results r join jobs j on j.id = r.job_id where not r.valid"),
            // A word of the stored validation error: the reason filter looks into results' errors too.
            ["invalidReason"] = System.Text.RegularExpressions.Regex.Matches(
                    await TestServices.ScalarAsync<string>(_postgres, "select validation_errors->>0 from results where not valid") ?? "", "[A-Za-z]{4,}")
                .Select(m => m.Value).OrderByDescending(w => w.Length).First(),
            ["tableDocuments"] = await CountAsync("select count(*) from documents where task = 'table'"),
            // 2 rows x 3 columns as written in the model text below (the sample image's top-left cells), each with a coords box.
            ["table"] = new { documentId = seeded.Table, pageId = seeded.TablePage, cells = 6 },
            ["molecule"] = new
            {
                documentId = seeded.Molecule,
                canonical = await TestServices.ScalarAsync<string>(_postgres, $"select mol_to_smiles('{Aspirin}'::mol)::text"),
                corrected = Phenol,
            },
            ["score"] = new { documentId = seeded.Score, notes = 4 },
            ["report"] = new { documentId = seeded.Report, impression = "No acute cardiopulmonary disease" },
        };

        var shots = Environment.GetEnvironmentVariable("DOCPIPE_REVIEW_SCREENSHOTS");
        var (exit, output) = await NodeAsync(new Dictionary<string, string>
        {
            ["REVIEW_BASE_URL"] = client.BaseAddress!.ToString().TrimEnd('/'),
            ["REVIEW_API_KEY"] = Key,
            ["REVIEW_EXPECT"] = JsonSerializer.Serialize(expect),
            ["REVIEW_SCREENSHOTS"] = string.IsNullOrEmpty(shots) ? "" : Path.GetFullPath(shots),
        });
        Assert.True(exit == 0, "review.test.mjs failed:\n" + output + "\nApi:\n" + api.Output);

        // The correction is stored beside the model's output, which is unchanged.
        Assert.Equal(Phenol, await TestServices.ScalarAsync<string>(_postgres, "select payload->>'smiles' from result_corrections"));
        Assert.Equal(Reviewer, await TestServices.ScalarAsync<string>(_postgres, "select reviewed_by from result_corrections"));
        Assert.Equal(Aspirin, await TestServices.ScalarAsync<string>(_postgres, $"select payload->>'smiles' from results where id = '{seeded.MoleculeResult}'"));
        Assert.Equal(Phenol, await TestServices.ScalarAsync<string>(_postgres, "select reviewed_smiles from molecule_results"));
        Assert.Equal(await TestServices.ScalarAsync<string>(_postgres, $"select mol_to_smiles('{Phenol}'::mol)::text"),
            await TestServices.ScalarAsync<string>(_postgres, "select reviewed_canonical_smiles from molecule_results"));

        // The reader role sees the reviewed fields through the views, and still not the table behind them.
        await using (var conn = new NpgsqlConnection(_postgres))
        {
            await conn.OpenAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var role = new NpgsqlCommand("set local role docpipe_reader", conn, tx))
            {
                await role.ExecuteNonQueryAsync();
            }

            await using (var read = new NpgsqlCommand("select reviewed_smiles || '|' || reviewed_by from molecule_results", conn, tx))
            {
                Assert.Equal($"{Phenol}|{Reviewer}", await read.ExecuteScalarAsync());
            }

            await using var denied = new NpgsqlCommand("select count(*) from result_corrections", conn, tx);
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, (await Assert.ThrowsAsync<PostgresException>(() => denied.ExecuteScalarAsync())).SqlState);
        }

        // ... and export-gold writes it where eval reads it: the model's aspirin against the reviewer's phenol.
        var gold = Path.Combine(_root, "gold");
        var (exportExit, exportOutput) = await CliAsync("export-gold", "--task", "molecule", "--out", gold);
        Assert.True(exportExit == 0, exportOutput);
        Assert.Equal(Phenol, await File.ReadAllTextAsync(Path.Combine(gold, "aspirin.smi")));
        Assert.Single(Directory.GetFiles(gold));
        var (evalExit, evalOutput) = await CliAsync("eval", "--task", "molecule", "--gold", gold);
        Assert.True(evalExit == 0, evalOutput);
        Assert.Contains("1 compared", evalOutput, StringComparison.Ordinal);
    }

    private const string Aspirin = "CC(=O)Oc1ccccc1C(=O)O";
    private const string Phenol = "Oc1ccccc1";

    private sealed record Seeded(Guid Table, Guid TablePage, Guid Molecule, Guid MoleculeResult, Guid Score, Guid Report);

    /// <summary>Documents as the pipeline leaves them, with the real post-processors' payloads of known model text.</summary>
    private async Task<Seeded> SeedAsync()
    {
        var options = (DbContextOptions<PostgresDocPipelineDbContext>)StorageServiceCollectionExtensions
            .ConfigurePostgres(new DbContextOptionsBuilder<PostgresDocPipelineDbContext>(), _postgres).Options;
        await using var db = new PostgresDocPipelineDbContext(options);
        var blobs = new FileSystemBlobStore(_env["Storage__BlobRoot"]);
        var png = Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.png");
        var bytes = await File.ReadAllBytesAsync(png);
        BlobInfo image;
        await using (var s = File.OpenRead(png))
        {
            image = await blobs.PutAsync(s);
        }

        // PNG IHDR: width and height, big-endian, at bytes 16 and 20.
        var width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        var height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));

        var table = Add(db, "revenue-table.png", "table", image.Key, width, height, "table_html", """
            <table><tr><td coords="<loc0224><loc0126><loc0338><loc0157>">Segment</td><td coords="<loc0339><loc0126><loc0453><loc0157>">Q1</td><td coords="<loc0455><loc0126><loc0569><loc0157>">Q2</td></tr><tr><td coords="<loc0224><loc0160><loc0338><loc0191>">Imaging</td><td coords="<loc0339><loc0160><loc0453><loc0191>">3,942</td><td coords="<loc0455><loc0160><loc0569><loc0191>">7,944</td></tr></table>
            """);
        var molecule = Add(db, "aspirin.png", "molecule", image.Key, width, height, "smiles", Aspirin);
        var score = Add(db, "scale.png", "score", image.Key, width, height, "kern", "**kern\n*clefG2\n*M4/4\n=1\n4c\n4d\n4e\n4f\n==\n*-\n");
        var report = Add(db, "chest.png", "report", image.Key, width, height, "report_sections",
            "FINDINGS: The lungs are clear. No pleural effusion. IMPRESSION: No acute cardiopulmonary disease.");
        // Noise, as the demo checkpoints write it: stored, invalid, with the post-processor's reasons.
        Add(db, "noise.png", "table", image.Key, width, height, "table_html", "<loc0001> Revenue Revenue Revenue");
        db.Documents.Add(new Document
        {
            Id = Guid.CreateVersion7(), Sha256 = new string('e', 64), FileName = "broken.pdf", MediaType = "application/pdf", Source = "api",
            Task = "table", Status = DocumentStatus.Failed, Error = "PDF renderer: the file is truncated", ReceivedAt = DateTimeOffset.UtcNow,
        });
        await db.SaveChangesAsync();
        return new Seeded(table.Document, table.Page, molecule.Document, molecule.Result, score.Document, report.Document);
    }

    private static (Guid Document, Guid Page, Guid Result) Add(
        DocPipelineDbContext db, string fileName, string task, string imageKey, int width, int height, string postProcessor, string modelText)
    {
        var now = DateTimeOffset.UtcNow;
        var document = new Document
        {
            Id = Guid.CreateVersion7(), Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fileName))),
            FileName = fileName, MediaType = "image/png", Source = "api", Task = task, Status = DocumentStatus.Done, ReceivedAt = now, SizeBytes = 1,
        };
        var page = new Page { Id = Guid.CreateVersion7(), DocumentId = document.Id, Index = 0, Width = width, Height = height, ImageBlobKey = imageKey };
        var job = new Job
        {
            Id = Guid.CreateVersion7(), PageId = page.Id, DocumentId = document.Id, Task = task, Checkpoint = "demo-" + task,
            CheckpointVersion = $"demo-{task}@1", Status = JobStatus.Done, Attempts = 1, EnqueuedAt = now, StartedAt = now, FinishedAt = now,
        };
        var processed = TaskPostProcessor.Process(postProcessor, modelText,
            new PostProcessingContext { Resolution = 224, FitMode = FitMode.PadToSquare, ImageWidth = width, ImageHeight = height });
        var result = new Result
        {
            Id = Guid.CreateVersion7(), JobId = job.Id, Task = task, Checkpoint = "demo-" + task, CheckpointVersion = "1",
            PromptPrefix = task == "table" ? "extract table" : task, RawText = modelText, Payload = processed.PayloadJson,
            Valid = processed.Valid, ValidationErrors = processed.ErrorsJson, PromptTokens = 270, GeneratedTokens = 42,
            PrefillMs = 120.5, DecodeMs = 840.25, CreatedAt = now,
        };
        document.Pages.Add(page);
        db.Documents.Add(document);
        db.Jobs.Add(job);
        db.Results.Add(result);
        return (document.Id, page.Id, result.Id);
    }

    private async Task<long> CountAsync(string sql) => await TestServices.ScalarAsync<long>(_postgres, sql);

    private async Task<(int Exit, string Output)> CliAsync(params string[] args)
    {
        var env = new Dictionary<string, string>(_env) { ["COLUMNS"] = "240", ["NO_COLOR"] = "1" };
        await using var p = ServiceProcess.Start(ServiceProcess.Dll("Cli", "docpipe"), env, _root, args);
        var exit = await p.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return (exit, p.Output);
    }

    private static async Task<(int Exit, string Output)> NodeAsync(Dictionary<string, string> env)
    {
        var folder = Path.Combine(TestServices.RepoRoot, "tests", "ui");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "playwright-core")), "run `npm ci` in tests/ui (scripts/test.sh does)");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: scripts/install-deps.sh installs it");
        var psi = new ProcessStartInfo("node") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("review.test.mjs");
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await node.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            node.Kill(entireProcessTree: true);
            return (-1, "timed out\n" + await stdout + await stderr);
        }

        return (node.ExitCode, await stdout + await stderr);
    }
}
