using System.Diagnostics;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

/// <summary>dcmtk command-line tools (Debian dcmtk) run as real processes.</summary>
internal static class Dcmtk
{
    public static async Task<string> RunAsync(string tool, params string[] args)
    {
        var (exitCode, output) = await RunProcessAsync(tool, args);
        Assert.True(exitCode == 0, $"{tool} {string.Join(' ', args)} exited {exitCode}:\n{output}");
        return output;
    }

    /// <summary>Runs a tool whose exit status is not its verdict (dciodvfy); returns stdout and stderr.</summary>
    public static async Task<string> RunAnyAsync(string tool, params string[] args) => (await RunProcessAsync(tool, args)).Output;

    private static async Task<(int ExitCode, string Output)> RunProcessAsync(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>A synthetic DX radiograph: the corpus MR_small.dcm with Modality DX (and optionally new UIDs).</summary>
    public static async Task<string> MakeDxAsync(string folder, string name, bool newUids = false)
    {
        var path = Path.Combine(folder, name);
        File.Copy(Corpus.File("dicom", "MR_small.dcm"), path);
        var args = new List<string> { "-nb", "-i", "(0008,0060)=DX", "-i", "(0018,0015)=CHEST" };
        if (newUids)
        {
            args.Add("-gin");
            args.Add("-gse");
        }

        args.Add(path);
        await RunAsync("dcmodify", [.. args]);
        return path;
    }
}
