using System.Diagnostics;

namespace PaliGemma2.DocPipeline.Documents.Tests.Pdf;

/// <summary>The shared PDF corpus and poppler's command-line tools as independent references.</summary>
internal static class PdfCorpus
{
    public static string Root => PaliGemma2.DocPipeline.Tests.Shared.Corpus.Folder("pdf");

    public static string File(string name) => Path.Combine(Root, name);

    public static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return stdout;
    }
}
