using System.Diagnostics;
using System.Text;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>Paths into the repository and a runner for the Python/Node reference scripts.</summary>
internal static class TestEnvironment
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Repository root (PaliGemma2.DocPipeline.sln) not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;

    public static string CheckpointRoot => Path.Combine(RepoRoot, "models", "test-checkpoint");

    public static string Checkpoint(string name) => Path.Combine(CheckpointRoot, name);

    public static string Script(string name) => Path.Combine(RepoRoot, "tests", "Inference.Tests", "Scripts", name);

    public static string Data(string name) => Path.Combine(RepoRoot, "tests", "Inference.Tests", "Data", name);

    /// <summary>Debian's interpreter: python3-sentencepiece / python3-numpy install there, not into a pyenv.</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    public static string RunProcess(string fileName, IEnumerable<string> arguments, string? workingDirectory = null, string? stdin = null, int timeoutSeconds = 300)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? RepoRoot,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish in {timeoutSeconds} s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }
}
