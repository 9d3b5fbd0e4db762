namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>
/// Levenshtein distance and the GrandStaff error rates as the Sheet Music Transformer's evaluation
/// (<c>eval_functions.py</c> of antoniorv6/SMT) tokenises **kern: CER over characters, SER over symbols
/// (newline becomes the token <c>&lt;b&gt;</c>, tab <c>&lt;t&gt;</c>, then the text is split on single spaces, empty
/// tokens kept), LER over lines (split on newline). A corpus rate is total edits over total gold length.
/// </summary>
public static class EditDistance
{
    /// <summary>Insertions, deletions and substitutions turning <paramref name="a"/> into <paramref name="b"/>.</summary>
    public static int Levenshtein<T>(IReadOnlyList<T> a, IReadOnlyList<T> b, IEqualityComparer<T>? comparer = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        comparer ??= EqualityComparer<T>.Default;
        var prev = new int[b.Count + 1];
        var cur = new int[b.Count + 1];
        for (var j = 0; j <= b.Count; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Count; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Count; j++)
            {
                var sub = prev[j - 1] + (comparer.Equals(a[i - 1], b[j - 1]) ? 0 : 1);
                cur[j] = Math.Min(sub, Math.Min(prev[j] + 1, cur[j - 1] + 1));
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Count];
    }

    /// <summary>Characters (Unicode code points, as Python's <c>list(str)</c>), newlines and tabs included.</summary>
    public static IReadOnlyList<int> Characters(string kern) => [.. (kern ?? "").EnumerateRunes().Select(r => r.Value)];

    /// <summary>SMT's symbols: <c>\n</c> -> <c> &lt;b&gt; </c>, <c>\t</c> -> <c> &lt;t&gt; </c>, split on single spaces.</summary>
    public static IReadOnlyList<string> Symbols(string kern) =>
        (kern ?? "").Replace("\n", " <b> ", StringComparison.Ordinal).Replace("\t", " <t> ", StringComparison.Ordinal).Split(' ');

    /// <summary>SMT's lines: split on <c>\n</c>.</summary>
    public static IReadOnlyList<string> Lines(string kern) => (kern ?? "").Split('\n');

    /// <summary>Character edits and gold length of one pair.</summary>
    public static (int Edits, int Length) CerCounts(string hypothesis, string reference) => Counts(Characters(hypothesis), Characters(reference));

    /// <summary>Symbol edits and gold length of one pair.</summary>
    public static (int Edits, int Length) SerCounts(string hypothesis, string reference) => Counts(Symbols(hypothesis), Symbols(reference));

    /// <summary>Line edits and gold length of one pair.</summary>
    public static (int Edits, int Length) LerCounts(string hypothesis, string reference) => Counts(Lines(hypothesis), Lines(reference));

    /// <summary>Character error rate of one pair.</summary>
    public static double Cer(string hypothesis, string reference) => Rate(CerCounts(hypothesis, reference));

    /// <summary>Symbol error rate of one pair.</summary>
    public static double Ser(string hypothesis, string reference) => Rate(SerCounts(hypothesis, reference));

    /// <summary>Line error rate of one pair.</summary>
    public static double Ler(string hypothesis, string reference) => Rate(LerCounts(hypothesis, reference));

    /// <summary>Total edits over total gold length; the reference divides by zero when all gold is empty, here that is 0 without edits and 1 with.</summary>
    public static double Rate((long Edits, long Length) total) =>
        total.Length == 0 ? (total.Edits == 0 ? 0 : 1) : (double)total.Edits / total.Length;

    private static (int, int) Counts<T>(IReadOnlyList<T> hypothesis, IReadOnlyList<T> reference) => (Levenshtein(hypothesis, reference), reference.Count);
}
