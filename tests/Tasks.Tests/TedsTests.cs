using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaliGemma2.DocPipeline.Tasks.Metrics;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>TEDS / S-TEDS as PubTabNet's reference metric: hand-worked cases and an independent tree edit distance.</summary>
public sealed class TedsTests
{
    private static string T(string rows) => $"<table>{rows}</table>";

    [Fact]
    public void Denominator_counts_elements_below_the_table_including_inline_tags()
    {
        // Elements below <table>: tr, td, td = 3 (the table itself is not counted). One cell "b" -> "c" costs 1.
        Assert.Equal(3, Teds.NodeCount(T("<tr><td>a</td><td>b</td></tr>")));
        Assert.Equal(1 - (1.0 / 3), Teds.Score(T("<tr><td>a</td><td>c</td></tr>"), T("<tr><td>a</td><td>b</td></tr>")), 12);
        // An <i> inside a cell is one more element: tr, td, i, td = 4, the same one-cell change now costs 1/4.
        Assert.Equal(4, Teds.NodeCount(T("<tr><td><i>a</i></td><td>b</td></tr>")));
        Assert.Equal(0.75, Teds.Score(T("<tr><td><i>a</i></td><td>c</td></tr>"), T("<tr><td><i>a</i></td><td>b</td></tr>")), 12);
    }

    [Fact]
    public void Cell_tokens_are_every_character_and_each_inline_tag()
    {
        // "a  b" is a, space, space, b; "a b" one space less: Levenshtein 1 over 4 tokens; n = 2 (tr, td).
        Assert.Equal(1 - (0.25 / 2), Teds.Score(T("<tr><td>a  b</td></tr>"), T("<tr><td>a b</td></tr>")), 12);
        // <b>a</b> is the tokens <b>, a, </b>: 2 deletions over 3 tokens; n = max(tr td b, tr td) = 3.
        Assert.Equal(1 - ((2.0 / 3) / 3), Teds.Score(T("<tr><td><b>a</b></td></tr>"), T("<tr><td>a</td></tr>")), 12);
        // Entities are characters: &amp; is one token "&".
        Assert.Equal(1.0, Teds.Score(T("<tr><td>x &amp; y</td></tr>"), T("<tr><td>x &#38; y</td></tr>")), 12);
    }

    [Fact]
    public void Th_keeps_its_own_tag_and_its_text_is_not_compared()
    {
        // A predicted th against a gold td renames at cost 1; n = 2 (tr, cell).
        Assert.Equal(0.5, Teds.Score(T("<tr><th>a</th></tr>"), T("<tr><td>a</td></tr>")), 12);
        // th is not a td in the reference, so two th differing in text are a match.
        Assert.Equal(1.0, Teds.Score(T("<tr><th>a</th></tr>"), T("<tr><th>b</th></tr>")), 12);
    }

    [Fact]
    public void Every_child_of_a_non_cell_node_is_in_the_tree()
    {
        // The caption is a node: deleting it costs 1; n = max(caption tr td, tr td) = 3.
        Assert.Equal(1 - (1.0 / 3), Teds.Score(T("<caption>Q1</caption><tr><td>a</td></tr>"), T("<tr><td>a</td></tr>")), 12);
        // Structure only: the caption still counts.
        Assert.Equal(1 - (1.0 / 3), Teds.Score(T("<caption>Q1</caption><tr><td>a</td></tr>"), T("<tr><td>b</td></tr>"), structureOnly: true), 12);
    }

    [Fact]
    public void The_table_must_sit_directly_under_body()
    {
        var gold = T("<tr><td>a</td></tr>");
        Assert.Equal(0, Teds.Score($"<div>{gold}</div>", gold));
        Assert.Equal(0, Teds.Score("no table", gold));
        Assert.Equal(0, Teds.Score("", gold));
        Assert.Equal(1.0, Teds.Score($"<html><body><p>Table 1</p>{gold}</body></html>", gold), 12);
        Assert.Equal(1.0, Teds.Score($"<!-- model output -->{gold}", gold), 12);
    }

    [Fact]
    public void Ignore_nodes_strips_tags_and_keeps_their_text()
    {
        var pred = T("<tr><td><b>a</b></td></tr>");
        var gold = T("<tr><td>a</td></tr>");
        Assert.NotEqual(1.0, Teds.Score(pred, gold));
        Assert.Equal(1.0, Teds.Score(pred, gold, ignoreNodes: ["b"]), 12);
    }

    [Fact]
    public void Scores_match_an_independent_tree_edit_distance_on_generated_tables()
    {
        References.RequireNodeModules();
        var random = new Random(16);
        var cases = new List<(string Pred, string Gold, bool StructureOnly, string[]? Ignore)>();
        for (var i = 0; i < 240; i++)
        {
            var gold = RandomTable(random);
            var pred = Mutate(gold, random);
            if (i % 11 == 5)
            {
                // Generation stopped at the token limit: the output ends mid-table, before some tag.
                var cuts = Indexes(pred, "<").Where(x => x > 7).ToList();
                pred = pred[..cuts[random.Next(cuts.Count)]];
            }

            if (i % 13 == 7)
            {
                // HTML lets a cell's end tag be omitted.
                pred = pred.Replace("</td>", "", StringComparison.Ordinal);
            }

            string[]? ignore = i % 7 == 0 ? ["b", "i"] : null;
            cases.Add((pred, gold, i % 3 == 0, ignore));
        }

        var input = new JsonArray(cases.Select(c => (JsonNode)new JsonObject
        {
            ["pred"] = c.Pred,
            ["true"] = c.Gold,
            ["structure_only"] = c.StructureOnly,
            ["ignore_nodes"] = c.Ignore is null ? null : new JsonArray(c.Ignore.Select(s => (JsonNode)s!).ToArray()),
        }).ToArray()).ToJsonString();
        var trees = References.Run(References.Python, [Path.Combine(References.MetricsRef, "teds_trees.py")], input);
        var expected = JsonSerializer.Deserialize<double[]>(References.Run("node", ["teds.mjs"], trees))!;

        Assert.Equal(cases.Count, expected.Length);
        var distinct = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var (pred, gold, structureOnly, ignore) = cases[i];
            var actual = Teds.Score(pred, gold, structureOnly, ignore);
            Assert.True(Math.Abs(actual - expected[i]) < 1e-9, $"case {i}: ours {actual}, reference {expected[i]}\npred {pred}\ngold {gold}");
            distinct += actual is > 0 and < 1 ? 1 : 0;
        }

        // The generator must produce real differences, not only identical or unreadable pairs.
        Assert.True(distinct > cases.Count / 2, $"only {distinct} pairs scored strictly between 0 and 1");
    }

    private static readonly string[] Words = ["12", "a", "Total", "x  y", " 3.5 ", "&amp;", "n=4", "", "β", "a&lt;b"];

    private static string Content(Random r)
    {
        var w = Words[r.Next(Words.Length)];
        return r.Next(5) switch
        {
            0 => $"<b>{w}</b>",
            1 => $"{w}<sup>{r.Next(9)}</sup>",
            2 => $"<i>{w}</i> {Words[r.Next(Words.Length)]}",
            _ => w,
        };
    }

    private static string Cell(Random r, string tag)
    {
        var attrs = new StringBuilder();
        if (r.Next(6) == 0)
        {
            attrs.Append($" colspan=\"{r.Next(2, 4)}\"");
        }

        if (r.Next(8) == 0)
        {
            attrs.Append($" rowspan=\"{r.Next(2, 3)}\"");
        }

        return $"<{tag}{attrs}>{Content(r)}</{tag}>";
    }

    private static string RandomTable(Random r)
    {
        var sb = new StringBuilder("<table>");
        if (r.Next(5) == 0)
        {
            sb.Append("<caption>Table ").Append(r.Next(9)).Append("</caption>");
        }

        var cols = r.Next(1, 5);
        var head = r.Next(2) == 0;
        if (head)
        {
            var tag = r.Next(2) == 0 ? "th" : "td";
            sb.Append("<thead><tr>");
            for (var c = 0; c < cols; c++)
            {
                sb.Append(Cell(r, tag));
            }

            sb.Append("</tr></thead>");
        }

        var body = r.Next(2) == 0;
        sb.Append(body ? "<tbody>" : "");
        for (var row = r.Next(1, 5); row > 0; row--)
        {
            sb.Append("<tr>");
            for (var c = 0; c < cols; c++)
            {
                sb.Append(Cell(r, "td"));
            }

            sb.Append("</tr>");
        }

        sb.Append(body ? "</tbody>" : "").Append("</table>");
        return sb.ToString();
    }

    // Edits a gold table the way a model errs: text, a dropped row or cell, th/td, spans, an extra row.
    private static string Mutate(string gold, Random r)
    {
        var s = gold;
        for (var k = r.Next(1, 4); k > 0; k--)
        {
            s = r.Next(7) switch
            {
                0 => ReplaceNth(s, "<td>", "<td>x", r),
                1 => DropNth(s, "<tr>", "</tr>", r),
                2 => DropNth(s, "<td", "</td>", r),
                3 => s.Replace("<th", "<td", StringComparison.Ordinal).Replace("</th>", "</td>", StringComparison.Ordinal),
                4 => ReplaceNth(s, "<td>", "<td colspan=\"2\">", r),
                5 => s.Replace("</table>", "<tr><td>new</td></tr></table>", StringComparison.Ordinal),
                _ => s.Replace("<b>", "<i>", StringComparison.Ordinal).Replace("</b>", "</i>", StringComparison.Ordinal),
            };
        }

        return s;
    }

    private static List<int> Indexes(string s, string what)
    {
        var list = new List<int>();
        for (var i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal))
        {
            list.Add(i);
        }

        return list;
    }

    private static string ReplaceNth(string s, string what, string with, Random r)
    {
        var at = Indexes(s, what);
        if (at.Count == 0)
        {
            return s;
        }

        var i = at[r.Next(at.Count)];
        return string.Concat(s.AsSpan(0, i), with, s.AsSpan(i + what.Length));
    }

    private static string DropNth(string s, string open, string close, Random r)
    {
        var at = Indexes(s, open);
        if (at.Count == 0)
        {
            return s;
        }

        var i = at[r.Next(at.Count)];
        var end = s.IndexOf(close, i, StringComparison.Ordinal);
        return end < 0 ? s : string.Concat(s.AsSpan(0, i), s.AsSpan(end + close.Length));
    }
}
