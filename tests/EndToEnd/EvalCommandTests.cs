using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;
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

    [Fact]
    public async Task Molecule_exact_match_on_postgres_follows_rdkit_canonical_smiles()
    {
        var env = new Dictionary<string, string>
        {
            ["Storage__Provider"] = "Postgres",
            ["ConnectionStrings__Postgres"] = await TestServices.CreateDatabaseAsync("eval_smiles"),
            ["COLUMNS"] = "240",
            ["NO_COLOR"] = "1",
        };
        foreach (var sample in new[] { "revenue-table.pdf", "lab-results.pdf" })
        {
            var (exit, output) = await DocpipeWithAsync(env, "process", Path.Combine(TestServices.RepoRoot, "samples", sample), "--task", "molecule");
            Assert.True(exit == 0, output);
        }

        // Written differently, equal once canonical (ethanol); and a stereocentre flipped (alanine), which must differ.
        (string Key, string Predicted, string Gold)[] pairs =
        [
            ("revenue-table", "OCC", "C(O)C"),
            ("lab-results", "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O"),
        ];
        await using (var conn = new NpgsqlConnection(env["ConnectionStrings__Postgres"]))
        {
            await conn.OpenAsync();
            foreach (var (key, predicted, _) in pairs)
            {
                await using var cmd = new NpgsqlCommand("""
                    update results r set payload = jsonb_build_object('smiles', @s), valid = true
                    from jobs j join pages p on p.id = j.page_id join documents d on d.id = j.document_id
                    where r.job_id = j.id and p.index = 0 and d.file_name = @f
                    """, conn);
                cmd.Parameters.AddWithValue("s", predicted);
                cmd.Parameters.AddWithValue("f", key + ".pdf");
                Assert.True(await cmd.ExecuteNonQueryAsync() >= 1, key);
            }
        }

        var gold = Directory.CreateDirectory(Path.Combine(_cwd, "gold-smiles")).FullName;
        foreach (var (key, _, g) in pairs)
        {
            await File.WriteAllTextAsync(Path.Combine(gold, key + ".smi"), g + "\n");
        }

        var (evalExit, evalOut) = await DocpipeWithAsync(env, "eval", "--task", "molecule", "--gold", gold, "--per-item", "csv");
        Assert.True(evalExit == 0, evalOut);
        Assert.Matches(@"canonical SMILES by\s+RDKit", evalOut);

        // The expected per-pair match comes from Debian's python3-rdkit, not from the store's cartridge.
        var script = "import sys\nfrom rdkit import Chem\nc = lambda s: Chem.MolToSmiles(Chem.MolFromSmiles(s))\n"
            + string.Concat(pairs.Select(p => $"print('{p.Key}', int(c('{p.Predicted}') == c('{p.Gold}')))\n"));
        var psi = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using var python = Process.Start(psi)!;
        var expected = (await python.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(a => a[0], a => a[1]);
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, await python.StandardError.ReadToEndAsync());
        Assert.Equal(new Dictionary<string, string> { ["revenue-table"] = "1", ["lab-results"] = "0" }, expected);
        foreach (var (key, value) in expected)
        {
            Assert.Matches(new Regex($"^{Regex.Escape(key)},{value}\\r?$", RegexOptions.Multiline), evalOut);
        }

        Assert.Matches(@"exact match\s*│\s*50\.00\s*│\s*2", evalOut);
    }

    private async Task<(int Exit, string Output)> DocpipeWithAsync(Dictionary<string, string> env, params string[] args)
    {
        await using var p = ServiceProcess.Start(ServiceProcess.Dll("Cli", "docpipe"), env, _cwd, args);
        var exit = await p.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return (exit, p.Output);
    }
}
