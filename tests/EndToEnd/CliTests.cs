using Microsoft.Data.Sqlite;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>README command 1: <c>docpipe process</c> in embedded mode, then <c>sql</c> and <c>status</c> on its store.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _cwd = TestServices.NewTempDirectory("cli");

    public void Dispose() => Directory.Delete(_cwd, recursive: true);

    private Task<(int Exit, string Output)> DocpipeAsync(params string[] args) => ServiceProcess.DocpipeAsync(_cwd, args);

    [Fact]
    public async Task Process_prepares_the_shipped_samples_and_sql_reads_the_result()
    {
        var samples = Path.Combine(TestServices.RepoRoot, "samples");
        var (exit, output) = await DocpipeAsync("process", samples, "--task", "table");
        Assert.True(exit == 0, output);

        var db = Path.Combine(_cwd, ".docpipe", "docpipe.db");
        Assert.Contains(db, output, StringComparison.Ordinal);
        Assert.True(File.Exists(db));

        var files = Directory.GetFiles(samples).Length;
        await using var conn = new SqliteConnection($"Data Source={db}");
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        // With no registered checkpoint the bundled demo checkpoint runs: every page gets a result.
        Assert.Contains("DEMO checkpoint", output, StringComparison.Ordinal);
        cmd.CommandText = "select count(*) from documents where status = 'done' and source = 'cli'";
        Assert.Equal((long)files, (long)(await cmd.ExecuteScalarAsync())!);
        cmd.CommandText = "select count(*) from pages";
        var pages = (long)(await cmd.ExecuteScalarAsync())!;
        Assert.True(pages >= files);
        cmd.CommandText = "select count(*) from results where checkpoint = 'demo-toy-paligemma2-table' and generated_tokens > 0";
        Assert.Equal(pages, (long)(await cmd.ExecuteScalarAsync())!);
        cmd.CommandText = "select id from documents order by received_at limit 1";
        var id = (string)(await cmd.ExecuteScalarAsync())!;

        var (sqlExit, sqlOut) = await DocpipeAsync("sql", "select count(*) as n from pages");
        Assert.Equal(0, sqlExit);
        Assert.Contains($" {pages} ", sqlOut, StringComparison.Ordinal);

        var (statusExit, statusOut) = await DocpipeAsync("status", id);
        Assert.Equal(0, statusExit);
        Assert.Contains("done", statusOut, StringComparison.Ordinal);

        // Running it again is a no-op: same bytes, same task, same documents.
        var (againExit, _) = await DocpipeAsync("process", samples, "--task", "table");
        Assert.Equal(0, againExit);
        cmd.CommandText = "select count(*) from documents";
        Assert.Equal((long)files, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Models_add_list_activate_manage_the_registry_and_refuse_a_bad_directory()
    {
        var demo = Path.Combine(TestServices.RepoRoot, "models", "demo");
        var (addExit, addOut) = await DocpipeAsync("models", "add", Path.Combine(demo, "molecule"));
        Assert.True(addExit == 0, addOut);
        Assert.Contains("demo-toy-paligemma2-molecule", addOut, StringComparison.Ordinal);

        // A second version of the same task: registered, not active until activated.
        var v2 = Path.Combine(_cwd, "molecule-v2");
        Directory.CreateDirectory(v2);
        foreach (var f in Directory.GetFiles(Path.Combine(demo, "molecule")))
        {
            File.Copy(f, Path.Combine(v2, Path.GetFileName(f)));
        }

        var json = await File.ReadAllTextAsync(Path.Combine(v2, "checkpoint.json"));
        await File.WriteAllTextAsync(Path.Combine(v2, "checkpoint.json"), json.Replace("0.1.0-demo", "0.2.0-demo", StringComparison.Ordinal));
        Assert.Equal(0, (await DocpipeAsync("models", "add", v2)).Exit);
        Assert.Equal(0, (await DocpipeAsync("models", "activate", "demo-toy-paligemma2-molecule", "0.2.0-demo")).Exit);

        await using (var conn = new SqliteConnection($"Data Source={Path.Combine(_cwd, ".docpipe", "docpipe.db")}"))
        {
            await conn.OpenAsync();
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "select version from checkpoints where task = 'molecule' and active = 1";
            Assert.Equal("0.2.0-demo", (string)(await cmd.ExecuteScalarAsync())!);
            cmd.CommandText = "select count(*) from checkpoints where resolution = 224 and length(sha256) = 64";
            Assert.Equal(2L, (long)(await cmd.ExecuteScalarAsync())!);
        }

        var (listExit, listOut) = await DocpipeAsync("models", "list");
        Assert.Equal(0, listExit);
        Assert.Contains("0.2.0", listOut, StringComparison.Ordinal);

        // A directory without graphs is refused with a message naming what is missing.
        var broken = Path.Combine(_cwd, "broken");
        Directory.CreateDirectory(broken);
        File.Copy(Path.Combine(demo, "molecule", "config.json"), Path.Combine(broken, "config.json"));
        File.Copy(Path.Combine(demo, "molecule", "checkpoint.json"), Path.Combine(broken, "checkpoint.json"));
        var (badExit, badOut) = await DocpipeAsync("models", "add", broken);
        Assert.Equal(1, badExit);
        Assert.Contains("tokenizer", badOut, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("image_mode", "'resize'")]
    [InlineData("pad_color", "#rrggbb")]
    [InlineData("resample", "'bilinear'")]
    [InlineData("sliding_window", "'none'")]
    public async Task Models_add_refuses_a_checkpoint_that_does_not_declare_a_fidelity_key(string key, string choice)
    {
        // The demo table checkpoint pads, so removing pad_color leaves image_mode 'pad' without its colour.
        var copy = Path.Combine(_cwd, "no-" + key);
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Path.Combine(TestServices.RepoRoot, "models", "demo", "table")))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }

        var path = Path.Combine(copy, "checkpoint.json");
        var node = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        Assert.True(node.Remove(key), $"the demo checkpoint declares {key}");
        await File.WriteAllTextAsync(path, node.ToJsonString());

        var (exit, output) = await DocpipeAsync("models", "add", copy);
        Assert.Equal(1, exit);
        Assert.Contains($"\"{key}\"", output, StringComparison.Ordinal);
        Assert.Contains(choice, output, StringComparison.Ordinal);
        var (_, list) = await DocpipeAsync("models", "list");
        Assert.DoesNotContain("demo-toy-paligemma2-table", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_task_is_refused_with_a_message()
    {
        var (exit, output) = await DocpipeAsync("process", Path.Combine(TestServices.RepoRoot, "samples"), "--task", "poetry");
        Assert.Equal(2, exit);
        Assert.Contains("Unknown task", output, StringComparison.Ordinal);
    }
}
