namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>One metric of an evaluation run.</summary>
/// <param name="Name">Metric name as papers print it (TEDS, S-TEDS, exact match, CER, ...).</param>
/// <param name="Value">Value in [0, 1] (error rates may exceed 1).</param>
public sealed record MetricValue(string Name, double Value);

/// <summary>What <c>docpipe eval</c> prints: metrics over the pairs that have both a result and a gold file.</summary>
/// <param name="Task">Task evaluated.</param>
/// <param name="Compared">Pairs compared.</param>
/// <param name="MissingResults">Gold files without a stored result.</param>
/// <param name="Metrics">Metric values.</param>
public sealed record EvaluationReport(string Task, int Compared, int MissingResults, IReadOnlyList<MetricValue> Metrics);

/// <summary>The paper's metrics per task over (prediction, gold) pairs.</summary>
public static class Evaluation
{
    /// <summary>Gold file extensions read per task (first match wins).</summary>
    public static IReadOnlyList<string> GoldExtensions(string task) => task switch
    {
        "table" => [".html", ".htm"],
        "molecule" => [".smi", ".smiles", ".txt"],
        "score" => [".krn", ".bekrn", ".kern", ".txt"],
        "report" => [".txt"],
        _ => throw new ArgumentException($"Unknown task '{task}'.", nameof(task)),
    };

    /// <summary>
    /// Scores predictions against gold by key (the document's file stem, plus <c>.p&lt;index&gt;</c> for pages after the first).
    /// Molecules compare canonical SMILES when the caller canonicalised both sides (PostgreSQL + RDKit).
    /// </summary>
    public static EvaluationReport Evaluate(string task, IReadOnlyDictionary<string, string> predictions, IReadOnlyDictionary<string, string> gold)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(gold);
        var pairs = gold.Where(g => predictions.ContainsKey(g.Key)).Select(g => (Predicted: predictions[g.Key], Gold: g.Value)).ToList();
        var missing = gold.Count - pairs.Count;
        List<MetricValue> metrics = task switch
        {
            "table" =>
            [
                new("TEDS", Mean(pairs.Select(p => Teds.Score(p.Predicted, p.Gold)))),
                new("S-TEDS", Mean(pairs.Select(p => Teds.Score(p.Predicted, p.Gold, structureOnly: true)))),
            ],
            "molecule" =>
            [
                new("exact match", Mean(pairs.Select(p => string.Equals(p.Predicted.Trim(), p.Gold.Trim(), StringComparison.Ordinal) ? 1.0 : 0.0))),
            ],
            "score" =>
            [
                // GrandStaff: total edits over total reference length, over characters, symbols and lines.
                new("CER", Pooled(pairs, EditDistance.Cer, s => s.Length)),
                new("SER", Pooled(pairs, EditDistance.Ser, s => s.Split(['\t', ' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Length)),
                new("LER", Pooled(pairs, EditDistance.Ler, s => s.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Length)),
            ],
            "report" =>
            [
                new("ROUGE-L", Mean(pairs.Select(p => TextMetrics.RougeL(p.Predicted, p.Gold)))),
                new("BLEU-4", TextMetrics.Bleu4(pairs.Select(p => (p.Predicted, p.Gold)).ToList())),
            ],
            _ => throw new ArgumentException($"Unknown task '{task}'.", nameof(task)),
        };
        return new EvaluationReport(task, pairs.Count, missing, metrics);
    }

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? 0 : list.Average();
    }

    // A rate times its reference length is the edit count; summing both pools the corpus.
    private static double Pooled(List<(string Predicted, string Gold)> pairs, Func<string, string, double> rate, Func<string, int> length)
    {
        double edits = 0, total = 0;
        foreach (var (p, g) in pairs)
        {
            var n = length(g);
            edits += rate(p, g) * Math.Max(n, 1);
            total += Math.Max(n, 1);
        }

        return total == 0 ? 0 : edits / total;
    }
}
