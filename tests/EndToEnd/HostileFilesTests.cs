using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// Issue 11: hostile files (tools/hostile/generate.py) go through one <c>docpipe process</c> run together with
/// good files; each ends as the generator expects, with its reason, and the host process stays small and alive.
/// </summary>
public sealed class HostileFilesTests(ITestOutputHelper output) : IDisposable
{
    // The host's own peak RSS (VmHWM). Parsing runs in docpipe-decode children, so a 1.5 GiB PdfPig
    // bomb must not show here; the host itself (EF, bus, ONNX demo model) needs a few hundred MiB.
    private const long PeakRssBoundBytes = 800L << 20;

    private readonly string _cwd = TestServices.NewTempDirectory("hostile");

    public void Dispose() => Directory.Delete(_cwd, recursive: true);

    [Fact]
    public async Task Hostile_files_end_with_their_reasons_in_one_run_with_good_files_and_the_host_stays_small()
    {
        var corpus = Path.Combine(_cwd, "corpus");
        var generate = Process.Start(new ProcessStartInfo("python3", [Path.Combine(TestServices.RepoRoot, "tools", "hostile", "generate.py"), corpus]))!;
        await generate.WaitForExitAsync();
        Assert.Equal(0, generate.ExitCode);
        var expected = File.ReadAllLines(Path.Combine(corpus, ".expected.tsv")).Skip(1)
            .Select(l => l.Split('\t')).ToDictionary(f => f[0], f => (Status: f[1], Code: f[2]), StringComparer.Ordinal);

        // JBIG2 refinement (pdf.js's test file, from the shared real-world corpus): MuPDF's jbig2dec has no
        // intermediate generic region and draws the page black; poppler draws it, so the page must come from pdftoppm.
        // That corpus may not be copied into the repository and a fresh clone has none beside it: then this case is not run.
        if (SharedCorpusFile("pdf", Jbig2Refinement) is { } jbig2)
        {
            File.Copy(jbig2, Path.Combine(corpus, Jbig2Refinement));
            expected[Jbig2Refinement] = ("done", "-");
        }
        else
        {
            Console.WriteLine($"{Jbig2Refinement}: shared/corpus not found beside the repository; JBIG2 refinement case not run");
        }

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _cwd,
        };
        foreach (var a in new[] { ServiceProcess.Dll("Cli", "docpipe"), "process", corpus, "--task", "table" })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["COLUMNS"] = "240";
        psi.Environment["NO_COLOR"] = "1";
        // The decoder gets 1.5 GiB of address space (512 MiB of heap): the bomb must hit it.
        psi.Environment["Preparation__Sandbox__MemoryLimitBytes"] = (1536L << 20).ToString(CultureInfo.InvariantCulture);
        // mutool needs seconds to stream the bomb's 320 MiB of content; the shared test machine can be 10x slower.
        psi.Environment["Preparation__Pdf__TimeoutPerPage"] = "00:01:30";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(8);
        while (!process.HasExited && DateTime.UtcNow < deadline)
        {
            peak = Math.Max(peak, VmHwm(process.Id));
            // Samples the high-water mark every 50 ms; returns at once when the process ends.
            process.WaitForExit(50);
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("docpipe process did not finish in 8 minutes:\n" + await stdout + await stderr);
        }

        var text = await stdout + await stderr;
        output.WriteLine($"docpipe process peak RSS (VmHWM): {peak >> 20} MiB");
        // 0: every document reached a terminal state (done or failed), which is what this test is about.
        Assert.True(process.ExitCode == 0, text);
        Assert.True(peak > 0, "no VmHWM sample was taken");
        Assert.True(peak < PeakRssBoundBytes, $"peak RSS {peak >> 20} MiB ≥ {PeakRssBoundBytes >> 20} MiB");

        await using var conn = new SqliteConnection($"Data Source={Path.Combine(_cwd, ".docpipe", "docpipe.db")}");
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "select file_name, status, reason_code, error, coalesce(metadata, ''), (select count(*) from pages p where p.document_id = d.id) from documents d";
        var rows = new Dictionary<string, (string Status, string? Code, string? Error, string Metadata, long Pages)>(StringComparer.Ordinal);
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows[reader.GetString(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetInt64(5));
            }
        }

        var report = string.Join("\n", rows.Select(r => $"{r.Key}: {r.Value.Status} {r.Value.Code} {r.Value.Error} {r.Value.Metadata}"));
        Assert.True(expected.Count == rows.Count, report);
        foreach (var (file, want) in expected)
        {
            Assert.True(rows.TryGetValue(file, out var got), $"{file} has no document\n{report}");
            Assert.True(want.Status == got.Status, $"{file}: expected {want.Status}, got {got.Status}\n{report}");
            if (want.Status == "failed")
            {
                Assert.True(want.Code == got.Code, $"{file}: expected reason {want.Code}, got {got.Code}\n{report}");
                // Plain words: no library exception type names in the stored reason.
                Assert.False(string.IsNullOrWhiteSpace(got.Error), file);
                Assert.DoesNotContain("Exception", got.Error!, StringComparison.Ordinal);
            }
            else
            {
                Assert.True(got.Pages > 0, $"{file} is done without pages");
                if (want.Code != "-")
                {
                    Assert.True(got.Metadata.Contains($"\"code\":\"{want.Code}\"", StringComparison.Ordinal), $"{file}: warning {want.Code} missing\n{report}");
                }
            }
        }
    }

    private const string Jbig2Refinement = "bitmap-composite-or-xor-replace-refine.pdf";

    // ../shared/corpus beside the repository (or beside a folder above it, for worktrees).
    private static string? SharedCorpusFile(string kind, string name)
    {
        for (var dir = new DirectoryInfo(TestServices.RepoRoot).Parent; dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "shared", "corpus", kind, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    private static long VmHwm(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0; // exited between the check and the read
        }
    }
}
