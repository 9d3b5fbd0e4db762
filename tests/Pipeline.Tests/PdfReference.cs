using System.Diagnostics;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>Poppler's pdfinfo as an independent page counter.</summary>
internal static partial class PdfReference
{
    public static int PageCount(string pdf)
    {
        var psi = new ProcessStartInfo("pdfinfo") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(pdf);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return int.Parse(PagesLine().Match(output).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^Pages:\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex PagesLine();
}
