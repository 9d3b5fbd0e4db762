using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Tests.Shared;

/// <summary>
/// Damaged PDFs derived from a real one (texlive's dcolumn manual, pdfTeX output with object streams),
/// deterministically, so each kind of damage is reproducible without committing blobs. The hostile
/// corpus for the sandbox (bombs, loops, huge pages) is a separate generator under tools/hostile.
/// </summary>
internal static partial class DamagedPdfs
{
    /// <summary>The source every damaged file is made from.</summary>
    public const string Source = "dcolumn.pdf";

    /// <summary>Cut after 2000 bytes: no xref, no page tree; no reader can find a page.</summary>
    public const string Truncated = "dcolumn-truncated.pdf";

    /// <summary><c>startxref</c> points into the middle of the file: renderers rebuild the xref and draw every page, reporting the repair.</summary>
    public const string BrokenXref = "dcolumn-broken-xref.pdf";

    /// <summary>Seeded byte flips in the compressed object streams, which hold the page tree: no page can be found.</summary>
    public const string ObjectStreamsFuzzed = "dcolumn-objstm-fuzzed.pdf";

    /// <summary>
    /// Seeded byte flips in every other stream (page contents, fonts), starting at each deflate header:
    /// the structure reads, the renderer reports zlib errors and draws empty pages.
    /// </summary>
    public const string ContentFuzzed = "dcolumn-content-fuzzed.pdf";

    /// <summary>The files that no renderer can make anything of.</summary>
    public static readonly string[] Unusable = [Truncated, ObjectStreamsFuzzed, ContentFuzzed];

    /// <summary>Writes every damaged file into <paramref name="folder"/>, which must hold <see cref="Source"/>.</summary>
    public static void WriteAll(string folder)
    {
        var original = File.ReadAllBytes(Path.Combine(folder, Source));
        File.WriteAllBytes(Path.Combine(folder, Truncated), original[..2000]);
        File.WriteAllBytes(Path.Combine(folder, BrokenXref), BreakXref(original));
        File.WriteAllBytes(Path.Combine(folder, ObjectStreamsFuzzed), FlipStreamBytes(original, objectStreams: true, seed: 11));
        File.WriteAllBytes(Path.Combine(folder, ContentFuzzed), FlipStreamBytes(original, objectStreams: false, seed: 17));
    }

    /// <summary>Halves the <c>startxref</c> offset, keeping its width so nothing else moves.</summary>
    public static byte[] BreakXref(byte[] pdf)
    {
        var text = Encoding.Latin1.GetString(pdf);
        var match = StartXref().Matches(text)[^1];
        var digits = match.Groups[1];
        var wrong = (long.Parse(digits.Value, CultureInfo.InvariantCulture) / 2).ToString(CultureInfo.InvariantCulture).PadLeft(digits.Length, '0');
        var damaged = (byte[])pdf.Clone();
        Encoding.Latin1.GetBytes(wrong).CopyTo(damaged, digits.Index);
        return damaged;
    }

    /// <summary>
    /// XORs bytes inside stream bodies (object streams, or all other streams but the xref stream): the
    /// first byte after the 2-byte zlib header, so inflating fails at once, then about one byte in 50.
    /// Lengths and offsets stay, so the damage is in the data, not the file structure.
    /// </summary>
    public static byte[] FlipStreamBytes(byte[] pdf, bool objectStreams, int seed)
    {
        var text = Encoding.Latin1.GetString(pdf);
        var damaged = (byte[])pdf.Clone();
        var random = new Random(seed);
        var streams = 0;
        foreach (Match m in StreamHeader().Matches(text))
        {
            var dictionary = m.Groups[1].Value;
            var isObjectStream = dictionary.Contains("/ObjStm", StringComparison.Ordinal);
            if (isObjectStream != objectStreams || dictionary.Contains("/XRef", StringComparison.Ordinal)
                || DirectLength().Match(dictionary) is not { Success: true } length)
            {
                continue;
            }

            var start = m.Index + m.Length;
            var end = start + int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture);
            damaged[start + 2] ^= 0x55;
            for (var i = start + 3; i < end; i++)
            {
                if (random.Next(50) == 0)
                {
                    damaged[i] ^= (byte)random.Next(1, 256);
                }
            }

            streams++;
        }

        return streams > 0 ? damaged : throw new InvalidOperationException($"No {(objectStreams ? "object" : "content")} streams found to damage.");
    }

    [GeneratedRegex(@"startxref\s+(\d+)")]
    private static partial Regex StartXref();

    // A stream object's dictionary, not crossing into the next object.
    [GeneratedRegex(@"\d+\s+\d+\s+obj\s*<<((?:(?!endobj).)*?)>>\s*stream\r?\n", RegexOptions.Singleline)]
    private static partial Regex StreamHeader();

    [GeneratedRegex(@"/Length\s+(\d+)(?!\d)(?!\s+\d+\s+R)")]
    private static partial Regex DirectLength();
}
