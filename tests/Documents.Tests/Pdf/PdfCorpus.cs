using System.Diagnostics;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

/// <summary>The PDF corpus (texlive manuals and damaged copies) and poppler's command-line tools as independent references.</summary>
internal static class PdfCorpus
{
    public static string Root => PaliGemma2.DocPipeline.Tests.Shared.Corpus.Folder("pdf");

    public static string File(string name) => PaliGemma2.DocPipeline.Tests.Shared.Corpus.File("pdf", name);

    /// <summary>The page count poppler's pdfinfo reports.</summary>
    public static int PopplerPageCount(string path) =>
        int.Parse(Run("pdfinfo", path).Split('\n').Single(l => l.StartsWith("Pages:", StringComparison.Ordinal))[6..].Trim(), System.Globalization.CultureInfo.InvariantCulture);

    public static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        _ = stderr.Result;
        p.WaitForExit();
        return stdout;
    }
}
