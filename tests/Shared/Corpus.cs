using System.Diagnostics;

namespace PaliGemma2.DocPipeline.Tests.Shared;

/// <summary>
/// Real-world test files that nobody on this project wrote, from Debian packages any fresh machine gets
/// (scripts/install-deps.sh installs them), located through <c>dpkg -L</c>, never through a fixed path:
/// <list type="bullet">
/// <item><c>dicom</c>: pydicom's test files from <c>python3-pydicom</c> (read in place).</item>
/// <item><c>pdf</c>: a per-process folder holding copies of <see cref="TexlivePdfs"/> from
/// <c>texlive-latex-base-doc</c> plus damaged files <see cref="DamagedPdfs"/> derives from them.</item>
/// </list>
/// </summary>
internal static class Corpus
{
    /// <summary>
    /// LaTeX package manuals, chosen for real tables (what the table task reads) and small page counts
    /// (the pipeline tests render every page): dcolumn (decimal-aligned columns, 4 pages), hhline (ruled
    /// tables, 4), delarray (delimited arrays, 3), ltxtable (longtable + tabularx, 3), tabularx (12 pages:
    /// over a 5- or 10-page limit), longtable (tables across 27 pages), upref (2 pages), ltnews18 (1 page).
    /// </summary>
    public static readonly string[] TexlivePdfs =
    [
        "tools/dcolumn.pdf", "tools/hhline.pdf", "tools/delarray.pdf", "carlisle/ltxtable.pdf",
        "tools/tabularx.pdf", "tools/longtable.pdf", "amscls/upref.pdf", "base/ltnews18.pdf",
    ];

    private static readonly Lazy<string> DicomFolder = new(FindPydicomTestFiles);
    private static readonly Lazy<string> PdfFolder = new(BuildPdfFolder);

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The folder of one kind of file: <c>dicom</c> or <c>pdf</c>.</summary>
    public static string Folder(string kind) => kind switch
    {
        "dicom" => DicomFolder.Value,
        "pdf" => PdfFolder.Value,
        _ => throw new ArgumentException($"No corpus of kind '{kind}' (dicom, pdf).", nameof(kind)),
    };

    /// <summary>A file of the corpus; throws when it is not there, so a renamed file fails loudly.</summary>
    public static string File(string kind, string name)
    {
        var path = Path.Combine(Folder(kind), name);
        return System.IO.File.Exists(path) ? path : throw new FileNotFoundException($"No {kind} corpus file '{name}' in {Folder(kind)}.", path);
    }

    /// <summary>The files a Debian package installed, from <c>dpkg -L</c>.</summary>
    public static IReadOnlyList<string> PackageFiles(string package)
    {
        var psi = new ProcessStartInfo("dpkg") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-L");
        psi.ArgumentList.Add(package);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dpkg");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0
            ? stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : throw new InvalidOperationException($"Debian package {package} is not installed (run scripts/install-deps.sh): {stderr.Trim()}");
    }

    private static string FindPydicomTestFiles()
    {
        var marker = PackageFiles("python3-pydicom").FirstOrDefault(f => f.EndsWith("/test_files/MR_small.dcm", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("python3-pydicom lists no test_files/MR_small.dcm.");
        return Path.GetDirectoryName(marker)!;
    }

    private static string BuildPdfFolder()
    {
        var installed = PackageFiles("texlive-latex-base-doc");
        var folder = Path.Combine(Path.GetTempPath(), $"docpipe-corpus-pdf-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp folder must not fail the run.
            }
        };

        foreach (var wanted in TexlivePdfs)
        {
            var source = installed.SingleOrDefault(f => f.EndsWith("/" + wanted, StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"texlive-latex-base-doc lists no {wanted}.");
            System.IO.File.Copy(source, Path.Combine(folder, Path.GetFileName(wanted)));
        }

        DamagedPdfs.WriteAll(folder);
        return folder;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "PaliGemma2.DocPipeline.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Repository root (PaliGemma2.DocPipeline.sln) not found above the test binaries.");
    }
}
