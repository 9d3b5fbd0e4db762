namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>Levenshtein distance and the GrandStaff error rates built on it.</summary>
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

    /// <summary>Character error rate: edits over characters / reference characters (newlines and tabs count).</summary>
    public static double Cer(string hypothesis, string reference) => Rate(hypothesis.ToCharArray(), reference.ToCharArray());

    /// <summary>Symbol error rate: edits over **kern tokens (split on tabs, spaces and newlines) / reference tokens.</summary>
    public static double Ser(string hypothesis, string reference) => Rate(Symbols(hypothesis), Symbols(reference));

    /// <summary>Line error rate: edits over whole lines / reference lines.</summary>
    public static double Ler(string hypothesis, string reference) => Rate(Lines(hypothesis), Lines(reference));

    private static double Rate<T>(IReadOnlyList<T> hypothesis, IReadOnlyList<T> reference) =>
        reference.Count == 0 ? (hypothesis.Count == 0 ? 0 : 1) : (double)Levenshtein(hypothesis, reference) / reference.Count;

    private static string[] Symbols(string s) => s.Split(['\t', ' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);

    private static string[] Lines(string s) => s.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
}
