using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Tasks.Reports;

/// <summary>The report_sections post-processor: splits a draft report into FINDINGS and IMPRESSION.</summary>
public static partial class ReportPostProcessor
{
    // A heading is the word at a line start (or the text start), case-insensitive, followed by ':'.
    [GeneratedRegex(@"(?:^|(?<=[\r\n.]))\s*(?<h>findings|impression)\s*:", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Heading();

    /// <summary>
    /// Builds the report payload; appends the reasons it is invalid to <paramref name="errors"/>, among them every
    /// section of <paramref name="requiredSections"/> (FINDINGS, IMPRESSION) without a heading followed by text.
    /// </summary>
    public static JsonObject Process(string text, List<string> errors, IReadOnlyList<string>? requiredSections = null)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var (findings, impression) = Split(text ?? "");
        if (requiredSections is { Count: > 0 })
        {
            var present = SectionsWithText(text ?? "");
            var missing = requiredSections.Where(s => !present.Contains(s)).ToList();
            if (missing.Count > 0)
            {
                errors.Add($"The report lacks the {string.Join(" and ", missing)} section{(missing.Count > 1 ? "s" : "")} its checkpoint declares "
                    + $"(report_sections: {string.Join(", ", requiredSections)}): no '{missing[0]}:' heading followed by text.");
            }
        }

        if (findings.Length == 0 && string.IsNullOrEmpty(impression))
        {
            errors.Add("The report is empty.");
        }
        else if (findings.Length == 0)
        {
            errors.Add("The report has no findings.");
        }

        CheckIsText(text ?? "", errors);

        return new JsonObject { ["findings"] = findings, ["impression"] = impression };
    }

    /// <summary>Least share of letters among the visible characters of a plausible report.</summary>
    public const double MinLetterShare = 0.5;

    // Model noise rather than prose: control or replacement characters, or mostly symbols and digits.
    private static void CheckIsText(string text, List<string> errors)
    {
        int visible = 0, letters = 0, notText = 0;
        for (var i = 0; i < text.Length;)
        {
            if (!Rune.TryGetRuneAt(text, i, out var rune))
            {
                notText++;
                i++;
                continue;
            }

            i += rune.Utf16SequenceLength;
            if (rune.Value is '\r' or '\n' or '\t' or '\f' || Rune.IsWhiteSpace(rune))
            {
                continue;
            }

            if (Rune.IsControl(rune) || rune.Value == 0xFFFD)
            {
                notText++;
                continue;
            }

            visible++;
            if (Rune.IsLetter(rune))
            {
                letters++;
            }
        }

        if (notText > 0)
        {
            errors.Add($"The report is not plain text: {notText} control or replacement character(s).");
        }

        if (visible > 0 && letters < MinLetterShare * visible)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"The report is implausible: only {100.0 * letters / visible:0}% of its characters are letters (at least {MinLetterShare:P0} expected)."));
        }
    }

    /// <summary>The headings (upper case) that have some text after them.</summary>
    public static IReadOnlySet<string> SectionsWithText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = Heading().Matches(text);
        var present = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < matches.Count; i++)
        {
            var start = matches[i].Index + matches[i].Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            if (text[start..end].Any(char.IsLetterOrDigit))
            {
                present.Add(matches[i].Groups["h"].Value.ToUpperInvariant());
            }
        }

        return present;
    }

    /// <summary>FINDINGS and IMPRESSION; text before any heading (or text without headings) counts as findings.</summary>
    public static (string Findings, string? Impression) Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = Heading().Matches(text);
        if (matches.Count == 0)
        {
            return (Normalize(text), null);
        }

        var findings = new List<string>();
        var impressions = new List<string>();
        var lead = text[..matches[0].Index];
        if (!string.IsNullOrWhiteSpace(lead))
        {
            findings.Add(lead);
        }

        for (var i = 0; i < matches.Count; i++)
        {
            var start = matches[i].Index + matches[i].Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            var body = text[start..end];
            (matches[i].Groups["h"].Value.Equals("impression", StringComparison.OrdinalIgnoreCase) ? impressions : findings).Add(body);
        }

        var impression = Normalize(string.Join(' ', impressions));
        return (Normalize(string.Join(' ', findings)), impressions.Count == 0 ? null : impression);
    }

    private static string Normalize(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
