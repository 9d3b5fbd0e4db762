using System.Text.Json;
using System.Text.RegularExpressions;

namespace PaliGemma2.DocPipeline.Pacs.WriteBack;

/// <summary>A draft report split into its two sections.</summary>
public sealed partial record ReportText(string Findings, string Impression)
{
    /// <summary>
    /// The sections of a result: <c>findings</c> / <c>impression</c> from the payload when the report
    /// post-processor wrote them, otherwise the raw text split at FINDINGS / IMPRESSION headings
    /// (case-insensitive); text without headings is all findings.
    /// </summary>
    public static ReportText From(string rawText, string? payload)
    {
        if (!string.IsNullOrWhiteSpace(payload))
        {
            try
            {
                using var doc = JsonDocument.Parse(payload);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    var findings = StringProperty(doc.RootElement, "findings");
                    var impression = StringProperty(doc.RootElement, "impression");
                    if (findings is not null || impression is not null)
                    {
                        return new ReportText(findings?.Trim() ?? "", impression?.Trim() ?? "");
                    }
                }
            }
            catch (JsonException)
            {
                // Fall back to the raw text.
            }
        }

        return Split(rawText ?? "");
    }

    /// <summary>Splits text at FINDINGS / IMPRESSION headings.</summary>
    public static ReportText Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var matches = Heading().Matches(text);
        if (matches.Count == 0)
        {
            return new ReportText(text.Trim(), "");
        }

        string findings = "", impression = "";
        var preamble = text[..matches[0].Index].Trim();
        for (var i = 0; i < matches.Count; i++)
        {
            var start = matches[i].Index + matches[i].Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            var body = text[start..end].Trim();
            if (matches[i].Groups["name"].Value.StartsWith("F", StringComparison.OrdinalIgnoreCase))
            {
                findings = Join(findings, body);
            }
            else
            {
                impression = Join(impression, body);
            }
        }

        return new ReportText(Join(preamble, findings), impression);
    }

    private static string Join(string a, string b) => a.Length == 0 ? b : b.Length == 0 ? a : a + "\n" + b;

    private static string? StringProperty(JsonElement obj, string name)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.ToString();
            }
        }

        return null;
    }

    [GeneratedRegex(@"\b(?<name>FINDINGS|IMPRESSION)\s*:?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Heading();
}
