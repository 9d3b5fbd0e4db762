namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>ROUGE-L and BLEU-4 over whitespace tokens (lower-cased), as report-generation papers score them.</summary>
public static class TextMetrics
{
    /// <summary>Lower-cased tokens with surrounding punctuation split off.</summary>
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

    /// <summary>ROUGE-L F1: longest common subsequence over tokens, harmonic mean of its precision and recall.</summary>
    public static double RougeL(string hypothesis, string reference)
    {
        var h = Tokens(hypothesis);
        var r = Tokens(reference);
        if (h.Count == 0 || r.Count == 0)
        {
            return h.Count == r.Count ? 1 : 0;
        }

        var lcs = Lcs(h, r);
        if (lcs == 0)
        {
            return 0;
        }

        var p = (double)lcs / h.Count;
        var rec = (double)lcs / r.Count;
        return 2 * p * rec / (p + rec);
    }

    /// <summary>
    /// Corpus BLEU-4 (Papineni et al.): clipped n-gram precisions for n = 1..4 summed over all pairs,
    /// geometric mean, brevity penalty; no smoothing, so a corpus without a matching 4-gram scores 0.
    /// </summary>
    public static double Bleu4(IReadOnlyList<(string Hypothesis, string Reference)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var matches = new long[4];
        var totals = new long[4];
        long hypLength = 0, refLength = 0;
        foreach (var (hyp, reference) in pairs)
        {
            var h = Tokens(hyp);
            var r = Tokens(reference);
            hypLength += h.Count;
            refLength += r.Count;
            for (var n = 1; n <= 4; n++)
            {
                var refCounts = NGrams(r, n);
                foreach (var (gram, count) in NGrams(h, n))
                {
                    matches[n - 1] += Math.Min(count, refCounts.GetValueOrDefault(gram));
                    totals[n - 1] += count;
                }
            }
        }

        if (hypLength == 0 || matches.Any(m => m == 0))
        {
            return 0;
        }

        var logPrecision = Enumerable.Range(0, 4).Sum(i => Math.Log((double)matches[i] / totals[i])) / 4;
        var bp = hypLength >= refLength ? 1 : Math.Exp(1 - (double)refLength / hypLength);
        return bp * Math.Exp(logPrecision);
    }

    /// <summary>BLEU-4 of one pair.</summary>
    public static double Bleu4(string hypothesis, string reference) => Bleu4([(hypothesis, reference)]);

    private static int Lcs(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var dp = new int[a.Count + 1, b.Count + 1];
        for (var i = 1; i <= a.Count; i++)
        {
            for (var j = 1; j <= b.Count; j++)
            {
                dp[i, j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal) ? dp[i - 1, j - 1] + 1 : Math.Max(dp[i - 1, j], dp[i, j - 1]);
            }
        }

        return dp[a.Count, b.Count];
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
