using PaliGemma2.DocPipeline.Tasks.Metrics;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

public sealed class MetricTests
{
    [Fact]
    public void Cer_ser_and_ler_of_known_edits()
    {
        // kitten -> sitting: 3 edits over 7 reference characters.
        Assert.Equal(3.0 / 7, EditDistance.Cer("kitten", "sitting"), 9);
        Assert.Equal(0, EditDistance.Cer("4c\t4e", "4c\t4e"));
        // SMT's symbols: 4c <t> 4e <b> 4d <t> 4g = 7 symbols, one substituted.
        Assert.Equal(["4c", "<t>", "4e", "<b>", "4d", "<t>", "4g"], EditDistance.Symbols("4c\t4e\n4d\t4g"));
        Assert.Equal(1.0 / 7, EditDistance.Ser("4c\t4e\n4d\t4f", "4c\t4e\n4d\t4g"), 9);
        // One of three lines differs.
        Assert.Equal(1.0 / 3, EditDistance.Ler("**kern\n4c\n=1", "**kern\n4d\n=1"), 9);
    }

    [Fact]
    public void RougeL_and_Bleu4_on_small_cases()
    {
        const string hyp = "the cat sat on the mat";
        const string reference = "the cat sat on a mat";
        // LCS = "the cat sat on mat" = 5 tokens; P = R = 5/6.
        Assert.Equal(5.0 / 6, TextMetrics.RougeL(hyp, reference), 9);
        // Clipped precisions 5/6, 3/5, 2/4, 1/3; equal lengths, no brevity penalty: (1/12)^(1/4).
        Assert.Equal(Math.Pow(1.0 / 12, 0.25), TextMetrics.Bleu4(hyp, reference), 9);
        Assert.Equal(1.0, TextMetrics.Bleu4("No acute cardiopulmonary process.", "no acute cardiopulmonary process"), 9);
        Assert.Equal(1.0, TextMetrics.RougeL("Heart size normal.", "heart size normal"), 9);
        // Brevity penalty: hypothesis of 4 tokens against a reference of 6 that contains it.
        Assert.Equal(Math.Exp(1 - (6.0 / 4)), TextMetrics.Bleu4("the cat sat on", "the cat sat on the mat"), 9);
    }
}

public sealed class EvaluationTests
{
    [Fact]
    public void Evaluate_matches_by_key_and_reports_the_task_metrics()
    {
        var gold = new Dictionary<string, string> { ["a"] = "kitten", ["b"] = "abc", ["c"] = "zzz" };
        var predictions = new Dictionary<string, string> { ["a"] = "sitting", ["b"] = "abc", ["x"] = "unused" };
        var r = Evaluation.Evaluate("score", predictions, gold);
        Assert.Equal((2, 1), (r.Compared, r.MissingResults));
        // Gold is the reference: "sitting" against "kitten" is 3 edits over 6 characters, "abc" 0 over 3; "c" has no result.
        Assert.Equal(3.0 / 9, r.Metrics.Single(m => m.Name == "CER").Value!.Value, 9);
        Assert.Equal(["a", "b"], r.Items.Select(i => i.Key));
        Assert.Equal(3.0 / 6, r.Items[0].Values["CER"], 9);

        var m = Evaluation.Evaluate("molecule", new Dictionary<string, string> { ["a"] = "CCO", ["b"] = "c1ccccc1" },
            new Dictionary<string, string> { ["a"] = "CCO\n", ["b"] = "C1=CC=CC=C1" });
        Assert.Equal(0.5, m.Metrics.Single().Value!.Value, 9);
        var t = Evaluation.Evaluate("table", new Dictionary<string, string> { ["a"] = "<table><tr><td>x</td></tr></table>" },
            new Dictionary<string, string> { ["a"] = "<table><tr><td>x</td></tr></table>" });
        Assert.Equal(["TEDS", "S-TEDS", "GriTS-Top", "GriTS-Con", "GriTS-Loc"], t.Metrics.Select(v => v.Name));
        Assert.Equal([1.0, 1.0, 1.0, 1.0, null], t.Metrics.Select(v => v.Value));
        Assert.StartsWith("not computed", t.Metrics[^1].Definition, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_metrics_say_radgraph_is_not_computed()
    {
        var r = Evaluation.Evaluate("report", new Dictionary<string, string> { ["a"] = "No acute process." }, new Dictionary<string, string> { ["a"] = "no acute process" });
        Assert.Equal(1.0, r.Metrics.Single(m => m.Name == "ROUGE-L").Value!.Value, 9);
        var radgraph = r.Metrics.Single(m => m.Name == "RadGraph F1");
        Assert.Null(radgraph.Value);
        Assert.Contains("not computed", radgraph.Definition, StringComparison.Ordinal);
    }
}
