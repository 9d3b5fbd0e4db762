using System.Text;

namespace PaliGemma2.DocPipeline.Storage;

/// <summary>
/// Makes text storable on every provider. PostgreSQL refuses U+0000 in <c>text</c> and <c>jsonb</c>
/// (SQLSTATE 22P05 / 22021) and the drivers refuse invalid UTF-16 (a lone surrogate cannot be encoded as
/// UTF-8); model output can contain both (a byte-fallback token <c>&lt;0x00&gt;</c>, a cut multi-byte character).
/// </summary>
public static class StorableText
{
    /// <summary>What replaces every character that cannot be stored: U+FFFD, so the loss stays visible.</summary>
    public const char Replacement = '\uFFFD';

    /// <summary>Returns <paramref name="text"/> with NUL and unpaired surrogates replaced by U+FFFD; the same instance when nothing needed replacing.</summary>
    public static string Sanitize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var first = FirstUnstorable(text);
        if (first < 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        builder.Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else
            {
                builder.Append(c == '\0' || char.IsSurrogate(c) ? Replacement : c);
            }
        }

        return builder.ToString();
    }

    /// <summary>Like <see cref="Sanitize(string)"/>, passing null through.</summary>
    public static string? SanitizeOrNull(string? text) => text is null ? null : Sanitize(text);

    /// <summary>Index of the first character PostgreSQL or the UTF-8 encoder would refuse, or -1.</summary>
    public static int FirstUnstorable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }
}
