using Microsoft.Data.Sqlite;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary><c>docpipe eval</c> on an embedded store: stored results against gold files, the paper's metrics printed.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly string _cwd = TestServices.NewTempDirectory("cli-eval");

    public void Dispose() => Directory.Delete(_cwd, recursive: true);

    private Task<(int Exit, string Output)> DocpipeAsync(params string[] args) => ServiceProcess.DocpipeAsync(_cwd, args);

    [Fact]
    public async Task Eval_prints_teds_of_the_stored_table_against_its_gold_file()
    {
        var (exit, output) = await DocpipeAsync("process", Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.pdf"), "--task", "table");
        Assert.True(exit == 0, output);

        // The demo checkpoint writes noise; give the stored result a known table one cell away from the gold.
        await using (var conn = new SqliteConnection($"Data Source={Path.Combine(_cwd, ".docpipe", "docpipe.db")}"))
        {
            await conn.OpenAsync();
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = """
                update results set payload = '{"text":"","html":"<table><thead><tr><th>Name</th><th>Q1</th></tr></thead><tbody><tr><td>b</td><td>12</td></tr></tbody></table>"}'
                """;
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var gold = Directory.CreateDirectory(Path.Combine(_cwd, "gold")).FullName;
        await File.WriteAllTextAsync(Path.Combine(gold, "revenue-table.html"),
            "<table><thead><tr><th>Name</th><th>Q1</th></tr></thead><tbody><tr><td>a</td><td>12</td></tr></tbody></table>");
        await File.WriteAllTextAsync(Path.Combine(gold, "no-such-document.html"), "<table><tr><td>x</td></tr></table>");

        var (evalExit, evalOut) = await DocpipeAsync("eval", "--task", "table", "--gold", gold, "--per-item", "csv");
        Assert.True(evalExit == 0, evalOut);
        // PubTabNet's denominator: 8 elements below <table> (thead, tr, 2 th, tbody, tr, 2 td); one cell renamed
        // "a" -> "b" costs 1: TEDS = 7/8. The structure is identical: S-TEDS = 1. GriTS-Con: 3 of 4 grid cells equal.
        Assert.Matches(@"TEDS\s*│\s*87\.50\s*│\s*1\s*│\s*PubTabNet", evalOut);
        Assert.Matches(@"S-TEDS\s*│\s*100\.00", evalOut);
        Assert.Matches(@"GriTS-Con\s*│\s*75\.00\s*│\s*1\s*│\s*table-transformer", evalOut);
        Assert.Matches(@"GriTS-Loc\s*│\s*n/a", evalOut);
        Assert.Contains("1 compared, 1 gold file(s) without a result", evalOut, StringComparison.Ordinal);
        Assert.Contains("key,TEDS,S-TEDS,GriTS-Top,GriTS-Con", evalOut, StringComparison.Ordinal);
        Assert.Contains("revenue-table,0.875,1,1,0.75", evalOut, StringComparison.Ordinal);

        var (badExit, _) = await DocpipeAsync("eval", "--task", "poetry", "--gold", gold);
        Assert.Equal(2, badExit);
    }
}
