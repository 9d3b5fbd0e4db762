namespace PaliGemma2.DocPipeline.Tasks.Metrics;

/// <summary>One metric of an evaluation run.</summary>
/// <param name="Name">Metric name as papers print it (TEDS, S-TEDS, GriTS-Top, exact match, CER, ...).</param>
/// <param name="Value">Value in [0, 1] (error rates may exceed 1, TEDS may fall below 0); null when it was not computed.</param>
/// <param name="Definition">Which definition the number follows, or why it was not computed.</param>
public sealed record MetricValue(string Name, double? Value, string Definition);

/// <summary>Per-pair scores of one gold file (same metric names as the report; a metric not defined for the pair is absent).</summary>
/// <param name="Key">Gold key: document file stem, plus <c>.p&lt;index&gt;</c> for pages after the first.</param>
/// <param name="Values">Metric name to the pair's score.</param>
public sealed record ItemScore(string Key, IReadOnlyDictionary<string, double> Values);

/// <summary>What <c>docpipe eval</c> prints: metrics over the pairs that have both a result and a gold file.</summary>
/// <param name="Task">Task evaluated.</param>
/// <param name="Compared">Pairs compared.</param>
/// <param name="MissingResults">Gold files without a stored result.</param>
/// <param name="Metrics">Metric values.</param>
/// <param name="Items">Per-pair scores, ordered by key.</param>
public sealed record EvaluationReport(string Task, int Compared, int MissingResults, IReadOnlyList<MetricValue> Metrics, IReadOnlyList<ItemScore> Items);

/// <summary>The papers' metrics per task over (prediction, gold) pairs; docs/metrics.md says how each was checked.</summary>
public static class Evaluation
{
    private const string TedsDefinition = "PubTabNet src/metric.py TEDS: tree of every element, td leaves with char + inline-tag tokens, th its own tag, n = elements below <table>; mean over pairs";
    private const string Pooled = "total Levenshtein edits / total gold length, tokenised as SMT eval_functions.py";

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
        var pairs = gold.Where(g => predictions.ContainsKey(g.Key)).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, Predicted: predictions[g.Key], Gold: g.Value)).ToList();
        var items = pairs.Select(p => (p.Key, Values: new Dictionary<string, double>(StringComparer.Ordinal))).ToList();
        var metrics = new List<MetricValue>();

        // Adds a metric that is the mean of a per-pair score; pairs where the score is null are left out.
        void Mean(string name, string definition, Func<int, double?> score)
        {
            var values = new List<double>();
            for (var i = 0; i < pairs.Count; i++)
            {
                if (score(i) is { } v)
                {
                    items[i].Values[name] = v;
                    values.Add(v);
                }
            }

            metrics.Add(values.Count == 0 && pairs.Count > 0
                ? new MetricValue(name, null, "not computed: no pair has what it needs (" + definition + ")")
                : new MetricValue(name, values.Count == 0 ? 0 : values.Average(), definition));
        }

        // Adds a corpus rate pooled over pairs (edits over gold length); each item gets its own rate.
        void Rate(string name, string unit, Func<string, string, (int Edits, int Length)> counts)
        {
            long edits = 0, length = 0;
            for (var i = 0; i < pairs.Count; i++)
            {
                var c = counts(pairs[i].Predicted, pairs[i].Gold);
                items[i].Values[name] = EditDistance.Rate(c);
                edits += c.Edits;
                length += c.Length;
            }

            metrics.Add(new MetricValue(name, EditDistance.Rate((edits, length)), $"{unit}: {Pooled}"));
        }

        switch (task)
        {
            case "table":
                Mean("TEDS", TedsDefinition, i => Teds.Score(pairs[i].Predicted, pairs[i].Gold));
                Mean("S-TEDS", "PubTabNet TEDS with structure_only=True; mean over pairs", i => Teds.Score(pairs[i].Predicted, pairs[i].Gold, structureOnly: true));
                var grits = pairs.Select(p => Grits.FromHtml(p.Predicted, p.Gold)).ToList();
                const string gritsDefinition = "table-transformer grits.py factored 2D-MSS F-score over the post-processor's grid";
                Mean("GriTS-Top", gritsDefinition + ", reward IoU of relative spans; mean over pairs", i => grits[i]?.Top ?? 0);
                Mean("GriTS-Con", gritsDefinition + ", reward difflib 2M/(|a|+|b|) of cell text; mean over pairs", i => grits[i]?.Con ?? 0);
                // A table the post-processor cannot read scores 0; a cell box comes from coords="<loc....>" attributes; a pair without them on both sides has no GriTS-Loc.
                Mean("GriTS-Loc", gritsDefinition + ", reward IoU of cell boxes, pairs with boxes on every cell of both sides; mean over those", i => grits[i]?.Loc);
                break;
            case "molecule":
                Mean("exact match", "string equality of trimmed SMILES (RDKit canonical SMILES when the store is PostgreSQL); mean over pairs",
                    i => string.Equals(pairs[i].Predicted.Trim(), pairs[i].Gold.Trim(), StringComparison.Ordinal) ? 1.0 : 0.0);
                break;
            case "score":
                Rate("CER", "characters (code points, newlines and tabs included)", EditDistance.CerCounts);
                Rate("SER", "symbols (\\n -> <b>, \\t -> <t>, split on single spaces)", EditDistance.SerCounts);
                Rate("LER", "lines (split on \\n)", EditDistance.LerCounts);
                break;
            case "report":
                Mean("ROUGE-L", "LCS F1 (beta 1) over tokens: lower-cased, white-space split, outer punctuation trimmed; mean over pairs", i => TextMetrics.RougeL(pairs[i].Predicted, pairs[i].Gold));
                var bleu = TextMetrics.Bleu4(pairs.Select(p => (p.Predicted, p.Gold)).ToList());
                for (var i = 0; i < pairs.Count; i++)
                {
                    items[i].Values["BLEU-4"] = TextMetrics.Bleu4(pairs[i].Predicted, pairs[i].Gold);
                }

                metrics.Add(new MetricValue("BLEU-4", bleu, "nltk corpus_bleu, weights 1/4 each, no smoothing, same tokens; per item: the pair alone"));
                metrics.Add(new MetricValue("RadGraph F1", null, "not computed: it needs the RadGraph model, which is not available here"));
                break;
            default:
                throw new ArgumentException($"Unknown task '{task}'.", nameof(task));
        }

        return new EvaluationReport(task, pairs.Count, gold.Count - pairs.Count, metrics, items.Select(i => new ItemScore(i.Key, i.Values)).ToList());
    }
}
