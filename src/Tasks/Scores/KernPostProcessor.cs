using System.Globalization;
using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Tasks.Scores;

/// <summary>What the **kern parser found.</summary>
/// <param name="Kern">Normalised **kern text (bekern tokens expanded).</param>
/// <param name="Spines">Spines opened by the exclusive interpretation line.</param>
/// <param name="MaxSpines">Most spines active at once.</param>
/// <param name="Measures">Measures holding at least one data record.</param>
/// <param name="Notes">Note tokens.</param>
/// <param name="Rests">Rest tokens.</param>
/// <param name="Errors">Structure errors; empty when every line has the spine count the manipulators imply.</param>
public sealed record KernStructure(string Kern, int Spines, int MaxSpines, int Measures, int Notes, int Rests, IReadOnlyList<string> Errors);

/// <summary>
/// The kern post-processor: reads Humdrum **kern and the GrandStaff "bekern" variant (whose line, tab and
/// space tokens <c>&lt;b&gt;</c>, <c>&lt;t&gt;</c>, <c>&lt;s&gt;</c> and sub-token separators <c>·</c>, <c>@</c> are
/// expanded first), follows spine splits (<c>*^</c>), joins (<c>*v</c>), additions (<c>*+</c>) and
/// terminations (<c>*-</c>), and checks every record has exactly as many tokens as there are spines.
/// </summary>
public static class KernPostProcessor
{
    /// <summary>Builds the score payload; appends the reasons it is invalid to <paramref name="errors"/>.</summary>
    public static JsonObject Process(string text, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var s = Parse(text ?? "");
        errors.AddRange(s.Errors);
        return new JsonObject
        {
            ["kern"] = s.Kern,
            ["spines"] = s.Spines,
            ["maxSpines"] = s.MaxSpines,
            ["measures"] = s.Measures,
            ["notes"] = s.Notes,
            ["rests"] = s.Rests,
        };
    }

    /// <summary>Expands bekern tokens into plain **kern lines and tabs.</summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("<b>", "\n", StringComparison.Ordinal).Replace("<t>", "\t", StringComparison.Ordinal)
            .Replace("<s>", " ", StringComparison.Ordinal).Replace("·", "", StringComparison.Ordinal).Replace("@", "", StringComparison.Ordinal)
            .Replace("\r\n", "\n", StringComparison.Ordinal).Trim('\n', ' ');
    }

    /// <summary>Parses and checks the spine structure.</summary>
    public static KernStructure Parse(string text)
    {
        var kern = Normalize(text);
        var errors = new List<string>();
        int spines = 0, active = 0, maxSpines = 0, measures = 0, notes = 0, rests = 0;
        var started = false;
        var dataInMeasure = false;
        var lines = kern.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("!!", StringComparison.Ordinal))
            {
                continue; // empty lines and global comments have no spines
            }

            var tokens = line.Split('\t');
            if (!started)
            {
                if (!tokens.All(t => t.StartsWith("**", StringComparison.Ordinal) && t.Length > 2))
                {
                    errors.Add($"Line {n + 1}: expected an exclusive interpretation (**kern ...) before any data.");
                    break;
                }

                started = true;
                spines = active = maxSpines = tokens.Length;
                continue;
            }

            if (active == 0)
            {
                errors.Add($"Line {n + 1}: records after every spine was terminated.");
                break;
            }

            if (tokens.Length != active)
            {
                errors.Add($"Line {n + 1}: {tokens.Length} tokens for {active} spines.");
                continue;
            }

            if (tokens.All(t => t.StartsWith('*')))
            {
                var next = 0;
                for (var i = 0; i < tokens.Length; i++)
                {
                    switch (tokens[i])
                    {
                        case "*^" or "*+": next += 2; break;
                        case "*-": break;
                        case "*v":
                            var run = 1;
                            while (i + 1 < tokens.Length && tokens[i + 1] == "*v")
                            {
                                run++;
                                i++;
                            }

                            if (run < 2)
                            {
                                errors.Add($"Line {n + 1}: '*v' must join at least two adjacent spines.");
                            }

                            next += 1;
                            break;
                        default: next += 1; break;
                    }
                }

                active = next;
                maxSpines = Math.Max(maxSpines, active);
            }
            else if (tokens[0].StartsWith('='))
            {
                if (tokens.Any(t => !t.StartsWith('=')))
                {
                    errors.Add($"Line {n + 1}: a barline must cross every spine.");
                }

                if (dataInMeasure)
                {
                    measures++;
                }

                dataInMeasure = false;
            }
            else if (!tokens.All(t => t.StartsWith('!')))
            {
                dataInMeasure = true;
                foreach (var sub in tokens.Where(t => t != "." && !t.StartsWith('!')).SelectMany(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
                {
                    if (sub.Contains('r', StringComparison.Ordinal))
                    {
                        rests++;
                    }
                    else if (sub.Any(ch => ch is >= 'a' and <= 'g' or >= 'A' and <= 'G'))
                    {
                        notes++;
                    }
                    else
                    {
                        errors.Add(string.Create(CultureInfo.InvariantCulture, $"Line {n + 1}: '{sub}' is not a note, rest or null token."));
                    }
                }
            }
        }

        if (!started && errors.Count == 0)
        {
            errors.Add("No **kern spines in the output.");
        }

        if (dataInMeasure)
        {
            measures++;
        }

        return new KernStructure(kern, spines, maxSpines, measures, notes, rests, errors);
    }
}
