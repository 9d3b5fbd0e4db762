using Microsoft.Data.Sqlite;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>README command 1: <c>docpipe process</c> in embedded mode, then <c>sql</c> and <c>status</c> on its store.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _cwd = TestServices.NewTempDirectory("cli");

    public void Dispose() => Directory.Delete(_cwd, recursive: true);

    private async Task<(int Exit, string Output)> DocpipeAsync(params string[] args)
    {
        var env = new Dictionary<string, string> { ["COLUMNS"] = "240", ["NO_COLOR"] = "1" };
        await using var p = ServiceProcess.Start(ServiceProcess.Dll("Cli", "docpipe"), env, _cwd, args);
        var exit = await p.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return (exit, p.Output);
    }

    [Fact]
    public async Task Process_prepares_the_shipped_samples_and_sql_reads_the_result()
    {
        var samples = Path.Combine(TestServices.RepoRoot, "samples");
        var (exit, output) = await DocpipeAsync("process", samples, "--task", "table");
        Assert.True(exit == 0, output);

        var db = Path.Combine(_cwd, ".docpipe", "docpipe.db");
        Assert.Contains(db, output, StringComparison.Ordinal);
        Assert.True(File.Exists(db));

        var files = Directory.GetFiles(samples, "*.pdf").Length;
        await using var conn = new SqliteConnection($"Data Source={db}");
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "select count(*) from documents where status = 'queued' and source = 'cli'";
        Assert.Equal((long)files, (long)(await cmd.ExecuteScalarAsync())!);
        cmd.CommandText = "select count(*) from pages";
        var pages = (long)(await cmd.ExecuteScalarAsync())!;
        Assert.True(pages >= files);
        cmd.CommandText = "select id from documents order by received_at limit 1";
        var id = (string)(await cmd.ExecuteScalarAsync())!;

        var (sqlExit, sqlOut) = await DocpipeAsync("sql", "select count(*) as n from pages");
        Assert.Equal(0, sqlExit);
        Assert.Contains($" {pages} ", sqlOut, StringComparison.Ordinal);

        var (statusExit, statusOut) = await DocpipeAsync("status", id);
        Assert.Equal(0, statusExit);
        Assert.Contains("queued", statusOut, StringComparison.Ordinal);

        // Running it again is a no-op: same bytes, same task, same documents.
        var (againExit, _) = await DocpipeAsync("process", samples, "--task", "table");
        Assert.Equal(0, againExit);
        cmd.CommandText = "select count(*) from documents";
        Assert.Equal((long)files, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task An_unknown_task_is_refused_with_a_message()
    {
        var (exit, output) = await DocpipeAsync("process", Path.Combine(TestServices.RepoRoot, "samples"), "--task", "poetry");
        Assert.Equal(2, exit);
        Assert.Contains("Unknown task", output, StringComparison.Ordinal);
    }
}
