using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>Every query in the README's "Querying results" section runs against a real, populated PostgreSQL.</summary>
public sealed partial class ReadmeQueryTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    // Tables get the demo checkpoint in-process; scores have none, so their jobs stay queued.
    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("readme", new Dictionary<string, string?>
    {
        ["Inference:Tasks:table"] = Path.Combine(TestServices.RepoRoot, "models", "demo", "table"),
        ["Preparation:DefaultResolution"] = "224",
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Every_readme_query_runs_and_returns_rows()
    {
        var good = await _host.IngestAsync(TestServices.CorpusFile("pdf", "ltxtable.pdf"), TaskNames.Table);
        var bad = await _host.IngestAsync(TestServices.CorpusFile("pdf", DamagedPdfs.ContentFuzzed), TaskNames.Table);
        var waiting = await _host.IngestAsync(TestServices.CorpusFile("pdf", "ltnews18.pdf"), TaskNames.Score);
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            var docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().ToListAsync());
            return docs.Single(d => d.Id == good.DocumentId).Status == DocumentStatus.Done
                && docs.Single(d => d.Id == bad.DocumentId).Status == DocumentStatus.Failed
                && docs.Single(d => d.Id == waiting.DocumentId).Status == DocumentStatus.Queued;
        }, TimeSpan.FromSeconds(120)));

        var readme = await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "README.md"));
        var block = SqlBlock().Match(readme.Split("## Querying results")[1]).Groups[1].Value;
        var queries = block.Split(';').Select(q => string.Join('\n', q.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal))).Trim())
            .Where(q => q.Length > 0).ToList();
        Assert.True(queries.Count >= 4, $"found {queries.Count} queries");

        var cs = await _host.WithDbAsync(db => Task.FromResult(db.Database.GetConnectionString()!));
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        foreach (var q in queries)
        {
            await using var cmd = new NpgsqlCommand(q.Replace("<id>", good.DocumentId.ToString(), StringComparison.Ordinal), conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync(), $"no rows from: {q}");
        }
    }

    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();
}
