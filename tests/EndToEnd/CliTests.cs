using System.Diagnostics;
using System.Text.Json;
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
        Assert.Contains(pages.ToString(System.Globalization.CultureInfo.InvariantCulture), sqlOut.Split('\n', StringSplitOptions.TrimEntries));

        var (statusExit, statusOut) = await DocpipeAsync("status", id);
        Assert.Equal(0, statusExit);
        Assert.Contains("done", statusOut, StringComparison.Ordinal);
        // Not a terminal: plain "key<TAB>value" lines, the id whole.
        Assert.Contains($"Document\t{Guid.Parse(id)}", statusOut.ReplaceLineEndings("\n").Split('\n'));

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

    /// <summary>
    /// Runs <c>docpipe</c> with stdout and stderr apart, as a pipe sees them; no COLUMNS, so nothing may depend on
    /// a screen width.
    /// </summary>
    private async Task<(int Exit, string Stdout, string Stderr)> DocpipeSplitAsync(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _cwd };
        psi.ArgumentList.Add(ServiceProcess.Dll("Cli", "docpipe"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("COLUMNS");
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"docpipe {string.Join(' ', args)} did not finish in 4 minutes:\n{await stdout}\n{await stderr}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    private static string[] Lines(string text) => text.ReplaceLineEndings("\n").Split('\n');

    private static async Task<(int Exit, string Stdout)> RunToolAsync(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + stderr);
    }

    [Fact]
    public async Task Identical_files_are_reported_at_once_counted_and_do_not_make_process_wait_out_its_timeout()
    {
        var input = Directory.CreateDirectory(Path.Combine(_cwd, "in")).FullName;
        var sample = Path.Combine(TestServices.RepoRoot, "samples", "revenue-table.png");
        File.Copy(sample, Path.Combine(input, "a.png"));
        File.Copy(sample, Path.Combine(input, "b.png"));

        var (exit, stdout, stderr) = await DocpipeSplitAsync(null, "process", "in", "--task", "table", "--timeout", "200");

        // Exit 0 means every document finished before the timeout; waiting for a second document that never comes is exit 3.
        Assert.True(exit == 0, stdout + stderr);
        var lines = Lines(stdout);
        var duplicate = Array.FindIndex(lines, l => l.StartsWith($"{Path.Combine("in", "b.png")}: same as {Path.Combine("in", "a.png")}", StringComparison.Ordinal));
        Assert.True(duplicate >= 0, stdout);
        // Reported while ingesting, before the wait starts, not only in the final table.
        Assert.True(duplicate < Array.FindIndex(lines, l => l.StartsWith("Ingested 2 file(s) as 1 document(s)", StringComparison.Ordinal)), stdout);
        Assert.Contains("2 file(s), 1 document(s) (1 duplicate file(s)): 1 done", stdout, StringComparison.Ordinal);
        await using (var conn = new SqliteConnection($"Data Source={Path.Combine(_cwd, ".docpipe", "docpipe.db")}"))
        {
            await conn.OpenAsync();
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "select count(*) from documents";
            Assert.Equal(1L, (long)(await cmd.ExecuteScalarAsync())!);
        }

        // Warnings go to stderr: the demo-checkpoint notice always, ONNX Runtime's CUDA fallback where CUDA cannot load.
        Assert.Contains("DEMO checkpoint", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("DEMO checkpoint", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("falling back to CPU", stdout, StringComparison.Ordinal);
        var cudaMissing = false;
        foreach (var library in (string[])["libcudart.so.13", "libcublasLt.so.13", "libcudnn.so.9"])
        {
            if (System.Runtime.InteropServices.NativeLibrary.TryLoad(library, out var handle))
            {
                System.Runtime.InteropServices.NativeLibrary.Free(handle);
            }
            else
            {
                cudaMissing = true;
            }
        }

        if (cudaMissing)
        {
            Assert.Contains("falling back to CPU", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Two_DICOM_files_of_one_SOP_instance_are_reported_as_one_document()
    {
        var input = Directory.CreateDirectory(Path.Combine(_cwd, "in")).FullName;
        var x = Path.Combine(input, "x.dcm");
        var y = Path.Combine(input, "y.dcm");
        File.Copy(TestServices.CorpusFile("dicom", "MR_small.dcm"), x);
        File.Copy(x, y);
        // Other bytes, same instance: what a PACS sending the image again looks like.
        Assert.Equal(0, (await RunToolAsync("dcmodify", "-nb", "-i", "(0020,4000)=sent again", y)).Exit);
        Assert.NotEqual(await File.ReadAllBytesAsync(x), await File.ReadAllBytesAsync(y));
        var (_, sopX) = await RunToolAsync("dcmdump", "+P", "0008,0018", x);
        var (_, sopY) = await RunToolAsync("dcmdump", "+P", "0008,0018", y);
        Assert.Contains("SOPInstanceUID", sopX, StringComparison.Ordinal);
        Assert.Equal(sopX, sopY);

        var (exit, stdout, stderr) = await DocpipeSplitAsync(null, "process", "in", "--task", "auto", "--timeout", "200");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains($"{Path.Combine("in", "y.dcm")}: same SOP Instance UID as {Path.Combine("in", "x.dcm")}", stdout, StringComparison.Ordinal);
        Assert.Contains("2 file(s), 1 document(s) (1 duplicate file(s))", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_timeout_every_unfinished_document_is_listed_with_its_status_and_why_in_plain_unwrapped_lines()
    {
        // Preparation switched off: the documents stay received however fast the machine is.
        var env = new Dictionary<string, string> { ["Roles"] = "infer" };
        var samples = Path.Combine(TestServices.RepoRoot, "samples");
        var (exit, stdout, stderr) = await DocpipeSplitAsync(env, "process", samples, "--task", "table", "--timeout", "1");

        Assert.True(exit == 3, stdout + stderr);
        var ids = new List<string>();
        await using (var conn = new SqliteConnection($"Data Source={Path.Combine(_cwd, ".docpipe", "docpipe.db")}"))
        {
            await conn.OpenAsync();
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "select id from documents where status = 'received'";
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                ids.Add(Guid.Parse(reader.GetString(0)).ToString());
            }
        }

        var files = Directory.GetFiles(samples).Length;
        Assert.Equal(files, ids.Count);
        var errors = Lines(stderr);
        Assert.Contains($"Timed out after 1 s with {files} of {files} document(s) unfinished:", errors);
        var lines = Lines(stdout);
        foreach (var id in ids)
        {
            Assert.Single(errors, l => l.Contains(id, StringComparison.Ordinal) && l.EndsWith("received: waiting for preparation (not started)", StringComparison.Ordinal));
            // stdout is a pipe: one tab-separated line per file, whole id, no box drawing.
            Assert.Single(lines, l => l.Split('\t') is [_, var d, "received", "0", "0", "waiting for preparation (not started)"] && d == id);
        }

        Assert.Contains("Query it: docpipe sql \"select task, checkpoint, generated_tokens, raw_text from results\"", lines);
        Assert.DoesNotContain("│", stdout, StringComparison.Ordinal);
    }

    private const string SqlSample = """
        select 'a,b' as "x,y", 'say "hi"' as quoted, 'line1' || char(10) || 'line2' as multiline, null as missing, 42 as n, 1.5 as f, 'ü €' as utf8
        union all select '', 'plain', '', 'x', -7, 0.25, ''
        """;

    [Fact]
    public async Task Sql_csv_is_read_back_by_Pythons_csv_module()
    {
        var (exit, stdout, stderr) = await DocpipeSplitAsync(null, "sql", SqlSample, "--format", "csv");
        Assert.True(exit == 0, stdout + stderr);
        Assert.EndsWith("\r\n", stdout, StringComparison.Ordinal);
        var csv = Path.Combine(_cwd, "out.csv");
        await File.WriteAllTextAsync(csv, stdout);

        var (pyExit, json) = await RunToolAsync("/usr/bin/python3", "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8'), strict=True))))", csv);
        Assert.True(pyExit == 0, json);
        string[][] expected =
        [
            ["x,y", "quoted", "multiline", "missing", "n", "f", "utf8"],
            ["a,b", "say \"hi\"", "line1\nline2", "", "42", "1.5", "ü €"],
            ["", "plain", "", "x", "-7", "0.25", ""],
        ];
        Assert.Equal(expected, JsonSerializer.Deserialize<string[][]>(json));
    }

    [Fact]
    public async Task Sql_json_is_an_array_of_objects_with_typed_values()
    {
        var (exit, stdout, stderr) = await DocpipeSplitAsync(null, "sql", SqlSample, "--format", "json");
        Assert.True(exit == 0, stdout + stderr);

        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
        var first = doc.RootElement[0];
        Assert.Equal("a,b", first.GetProperty("x,y").GetString());
        Assert.Equal("say \"hi\"", first.GetProperty("quoted").GetString());
        Assert.Equal("line1\nline2", first.GetProperty("multiline").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("missing").ValueKind);
        Assert.Equal(42, first.GetProperty("n").GetInt64());
        Assert.Equal(1.5, first.GetProperty("f").GetDouble());
        Assert.Equal("ü €", first.GetProperty("utf8").GetString());
        Assert.Equal(-7, doc.RootElement[1].GetProperty("n").GetInt64());
        Assert.Equal("x", doc.RootElement[1].GetProperty("missing").GetString());
    }

    [Fact]
    public async Task Sql_table_to_a_pipe_keeps_long_values_on_one_line_and_errors_go_to_stderr()
    {
        var id = Guid.NewGuid().ToString();
        var value = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"{id[..8]}-{i}"));
        var (exit, stdout, stderr) = await DocpipeSplitAsync(null, "sql", $"select '{id}' as id, '{value}' as long_value");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(["id\tlong_value", $"{id}\t{value}", "1 row(s)", ""], Lines(stdout));

        var (badExit, badOut, badErr) = await DocpipeSplitAsync(null, "sql", "select * from no_such_table");
        Assert.Equal(1, badExit);
        Assert.Contains("no_such_table", badErr, StringComparison.Ordinal);
        Assert.DoesNotContain("no_such_table", badOut, StringComparison.Ordinal);
    }
}
