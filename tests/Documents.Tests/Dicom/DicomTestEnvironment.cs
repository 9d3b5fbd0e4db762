using System.Diagnostics;
using System.Globalization;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>Paths, temporary folders and the external reference tools (dcmtk, GDCM command line).</summary>
internal static class DicomTestEnvironment
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The repository root (the folder holding the .sln).</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>The shared real-world DICOM corpus, beside the repository (never copied into it).</summary>
    public static string CorpusDirectory => PaliGemma2.DocPipeline.Tests.Shared.Corpus.Folder("dicom");

    public static string CorpusFile(string name) => Path.Combine(CorpusDirectory, name);

    /// <summary>A fresh folder under the system temp directory, removed by the caller's dispose.</summary>
    public static TempFolder CreateTempFolder() => new();

    /// <summary>Runs a tool, failing the test with its output when it fails; returns stdout.</summary>
    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} timed out");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(string.Create(
                CultureInfo.InvariantCulture,
                $"{tool} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}{stdout.Result}"));
        }

        return stdout.Result;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (dir.EnumerateFiles("*.sln").Any())
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("no .sln above " + AppContext.BaseDirectory);
    }

    internal sealed class TempFolder : IDisposable
    {
        public TempFolder()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "docpipe-dicom-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder must not fail a test.
            }
        }
    }
}
