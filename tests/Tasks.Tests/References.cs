using System.Diagnostics;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>Runs the independent reference implementations (Debian Python packages, tools/metricsref) the metric tests compare against.</summary>
internal static class References
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string MetricsRef => Path.Combine(RepoRoot, "tools", "metricsref");

    // Debian's interpreter: python3-lxml, -nltk, -levenshtein and -rdkit are installed for it by scripts/install-deps.sh.
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Fails with the setup step when tools/metricsref has not been installed, rather than passing unchecked.</summary>
    public static void RequireNodeModules() =>
        Assert.True(Directory.Exists(Path.Combine(MetricsRef, "node_modules")),
            "tools/metricsref/node_modules is missing: run the tests with scripts/test.sh (it runs npm ci there).");

    /// <summary>Runs a program with <paramref name="stdin"/> and returns its standard output; a non-zero exit fails the test.</summary>
    public static string Run(string fileName, IEnumerable<string> args, string stdin, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? MetricsRef,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), $"{fileName} did not finish");
        Assert.True(p.ExitCode == 0, $"{fileName} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Repository root not found above " + AppContext.BaseDirectory);
    }
}
