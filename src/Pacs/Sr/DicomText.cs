using System.Text;

namespace PaliGemma2.DocPipeline.Pacs.Sr;

/// <summary>
/// Makes model text legal in DICOM text values (PS3.5 6.1.2, 6.2): UT/ST/LT may hold the character
/// repertoire plus the control characters CR, LF and FF (TAB becomes a space); LO/SH hold no control character and no
/// backslash. Other control characters (C0, DEL, C1) are removed; code points that are not characters
/// (U+FFFD from a broken decode, unpaired surrogates, noncharacters) are replaced by a visible '?'.
/// </summary>
public static class DicomText
{
    /// <summary>The visible stand-in for a code point that is not a character.</summary>
    public const char Replacement = '?';

    /// <summary>Sanitises <paramref name="value"/> for a value of <paramref name="vr"/> (UT, ST, LT multi-line; LO, SH, PN single-line; other VRs unchanged).</summary>
    public static string Sanitize(string value, string vr)
    {
        ArgumentNullException.ThrowIfNull(value);
        var multiLine = vr is "UT" or "ST" or "LT";
        if (!multiLine && vr is not ("LO" or "SH" or "PN"))
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        foreach (var rune in Enumerate(value))
        {
            if (rune is null)
            {
                sb.Append(Replacement);
                continue;
            }

            var r = rune.Value;
            if (r.Value is '\r' or '\n' or '\f')
            {
                // Line structure survives in multi-line text; a single-line value gets a space.
                sb.Append(multiLine ? (char)r.Value : ' ');
            }
            else if (r.Value == '\t')
            {
                // HT is not among the control characters UT/ST/LT allow (dciodvfy refuses it).
                sb.Append(' ');
            }
            else if (Rune.IsControl(r))
            {
                // C0 (incl. ESC: no ISO 2022 code extensions are declared), DEL and C1: not in the repertoire.
            }
            else if (r.Value == 0xFFFD || IsNonCharacter(r.Value))
            {
                sb.Append(Replacement);
            }
            else if (!multiLine && r.Value == '\\')
            {
                // The value delimiter of multi-valued attributes: one value only.
                sb.Append('/');
            }
            else
            {
                sb.Append(r.ToString());
            }
        }

        return sb.ToString();
    }

    private static bool IsNonCharacter(int cp) => cp is >= 0xFDD0 and <= 0xFDEF || (cp & 0xFFFE) == 0xFFFE;

    // Runes of the string; null for an unpaired surrogate.
    private static IEnumerable<Rune?> Enumerate(string value)
    {
        for (var i = 0; i < value.Length;)
        {
            if (Rune.TryGetRuneAt(value, i, out var rune))
            {
                yield return rune;
                i += rune.Utf16SequenceLength;
            }
            else
            {
                yield return null;
                i++;
            }
        }
    }
}
