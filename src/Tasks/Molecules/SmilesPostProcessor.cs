using System.Text.Json.Nodes;

namespace PaliGemma2.DocPipeline.Tasks.Molecules;

/// <summary>
/// The smiles post-processor. Chemistry (validity, canonical form, formula) is RDKit's job in PostgreSQL;
/// here only what needs no chemistry is checked, so that obvious noise is marked invalid in every mode:
/// one token, SMILES characters only, balanced brackets and parentheses, ring closures paired.
/// </summary>
public static class SmilesPostProcessor
{
    // SMILES alphabet (OpenSMILES): atoms, bonds, branches, ring bonds, charges, chirality, isotopes, dot.
    private const string Allowed = "ABCDEFGHIKLMNOPRSTUVWXYZabcdefghiklmnoprstuy0123456789[]()=#$:/\\.+-@%*";

    /// <summary>Builds the molecule payload; appends the reasons it is invalid to <paramref name="errors"/>.</summary>
    public static JsonObject Process(string text, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var smiles = (text ?? "").Trim();
        errors.AddRange(Check(smiles));
        return new JsonObject { ["smiles"] = smiles };
    }

    /// <summary>Syntax problems of <paramref name="smiles"/> (empty when it may be a SMILES).</summary>
    public static IReadOnlyList<string> Check(string smiles)
    {
        ArgumentNullException.ThrowIfNull(smiles);
        if (smiles.Length == 0)
        {
            return ["Empty SMILES."];
        }

        var bad = smiles.Where(ch => !Allowed.Contains(ch, StringComparison.Ordinal)).Distinct().ToList();
        if (bad.Count > 0)
        {
            return [$"Not a SMILES: characters {string.Join(' ', bad.Select(b => $"'{b}'"))} are outside the SMILES alphabet."];
        }

        var errors = new List<string>();
        int depth = 0;
        var inBracket = false;
        var rings = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < smiles.Length; i++)
        {
            var ch = smiles[i];
            if (inBracket)
            {
                if (ch == ']')
                {
                    inBracket = false;
                }
                else if (ch == '[')
                {
                    errors.Add($"Nested '[' at {i}.");
                }

                continue;
            }

            switch (ch)
            {
                case '[': inBracket = true; break;
                case ']': errors.Add($"Unmatched ']' at {i}."); break;
                case '(': depth++; break;
                case ')':
                    if (--depth < 0)
                    {
                        errors.Add($"Unmatched ')' at {i}.");
                        depth = 0;
                    }

                    break;
                case '%' when i + 2 < smiles.Length && char.IsAsciiDigit(smiles[i + 1]) && char.IsAsciiDigit(smiles[i + 2]):
                    Toggle(rings, smiles.Substring(i + 1, 2));
                    i += 2;
                    break;
                case >= '0' and <= '9': Toggle(rings, ch.ToString()); break;
                default: break;
            }
        }

        if (inBracket)
        {
            errors.Add("Unclosed '['.");
        }

        if (depth > 0)
        {
            errors.Add($"{depth} unclosed '('.");
        }

        if (rings.Count > 0)
        {
            errors.Add($"Unpaired ring closure(s): {string.Join(' ', rings.Order(StringComparer.Ordinal))}.");
        }

        return errors;

        static void Toggle(HashSet<string> open, string label)
        {
            if (!open.Remove(label))
            {
                open.Add(label);
            }
        }
    }
}
