namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>
/// ROUGE-L and BLEU-4 for generated reports, over <see cref="Tokens"/>: ROUGE-L is the LCS F1 (β = 1) of one pair;
/// BLEU-4 is NLTK's <c>corpus_bleu</c> with uniform weights and no smoothing (method0), one reference per hypothesis.
/// </summary>
public static class TextMetrics
{
    /// <summary>The stated tokenisation: lower-cased (invariant), split on white space, leading and trailing <c>. , ; : ! ? ( ) " '</c> trimmed, empty tokens dropped.</summary>
    public static IReadOnlyList<string> Tokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (var raw in text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var word = raw.Trim('.', ',', ';', ':', '!', '?', '(', ')', '"', '\'');
            if (word.Length > 0)
            {
                tokens.Add(word);
            }
        }

        return tokens;
    }

    /// <summary>ROUGE-L F1 of one pair: longest common subsequence over tokens, harmonic mean of its precision and recall (1 when both are empty).</summary>
    public static double RougeL(string hypothesis, string reference) => RougeL(Tokens(hypothesis), Tokens(reference));

    /// <summary>ROUGE-L F1 of token lists.</summary>
    public static double RougeL(IReadOnlyList<string> hypothesis, IReadOnlyList<string> reference)
    {
        ArgumentNullException.ThrowIfNull(hypothesis);
        ArgumentNullException.ThrowIfNull(reference);
        if (hypothesis.Count == 0 || reference.Count == 0)
        {
            return hypothesis.Count == reference.Count ? 1 : 0;
        }

        var lcs = Lcs(hypothesis, reference);
        if (lcs == 0)
        {
            return 0;
        }

        var p = (double)lcs / hypothesis.Count;
        var r = (double)lcs / reference.Count;
        return 2 * p * r / (p + r);
    }

    /// <summary>
    /// Corpus BLEU-4 as NLTK's <c>corpus_bleu</c>: clipped n-gram matches and hypothesis n-gram counts summed over the
    /// pairs (each pair adds at least 1 to every denominator, as NLTK's <c>modified_precision</c> does), geometric mean of
    /// the four precisions, brevity penalty exp(1 - r/c) when c ≤ r (0 when c = 0). Without smoothing a corpus with no
    /// match for some n scores 0 (NLTK returns about 1e-77 there, with a warning).
    /// </summary>
    public static double Bleu4(IReadOnlyList<(string Hypothesis, string Reference)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        return Bleu4(pairs.Select(p => (Tokens(p.Hypothesis), Tokens(p.Reference))).ToList());
    }

    /// <summary>Corpus BLEU-4 of token lists.</summary>
    public static double Bleu4(IReadOnlyList<(IReadOnlyList<string> Hypothesis, IReadOnlyList<string> Reference)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var matches = new long[4];
        var totals = new long[4];
        long hypLength = 0, refLength = 0;
        foreach (var (h, r) in pairs)
        {
            hypLength += h.Count;
            refLength += r.Count;
            for (var n = 1; n <= 4; n++)
            {
                var refCounts = NGrams(r, n);
                long count = 0;
                foreach (var (gram, c) in NGrams(h, n))
                {
                    matches[n - 1] += Math.Min(c, refCounts.GetValueOrDefault(gram));
                    count += c;
                }

                totals[n - 1] += Math.Max(1, count);
            }
        }

        if (hypLength == 0 || matches.Any(m => m == 0))
        {
            return 0;
        }

        var logPrecision = Enumerable.Range(0, 4).Sum(i => 0.25 * Math.Log((double)matches[i] / totals[i]));
        var bp = hypLength > refLength ? 1 : Math.Exp(1 - ((double)refLength / hypLength));
        return bp * Math.Exp(logPrecision);
    }

    /// <summary>BLEU-4 of one pair (the per-item score).</summary>
    public static double Bleu4(string hypothesis, string reference) => Bleu4([(hypothesis, reference)]);

    private static int Lcs(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var prev = new int[b.Count + 1];
        var cur = new int[b.Count + 1];
        for (var i = 1; i <= a.Count; i++)
        {
            for (var j = 1; j <= b.Count; j++)
            {
                cur[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal) ? prev[j - 1] + 1 : Math.Max(prev[j], cur[j - 1]);
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Count];
    }

    private static Dictionary<string, int> NGrams(IReadOnlyList<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i + n <= tokens.Count; i++)
        {
            var gram = string.Join('\u0001', tokens.Skip(i).Take(n));
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }

        return counts;
    }
}
