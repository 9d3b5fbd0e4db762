using System.Text.Json;
using System.Text.Json.Nodes;
using PaliGemma2.DocPipeline.Tasks.Metrics;
using PaliGemma2.DocPipeline.Tasks.Tables;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>GriTS as microsoft/table-transformer's grits.py: hand-worked grids, and difflib for the text reward.</summary>
public sealed class GritsTests
{
    private static GritsScores Html(string predicted, string gold) => Grits.FromHtml(predicted, gold)!;

    [Fact]
    public void Identical_tables_score_one()
    {
        const string table = "<table><tr><td>a</td><td>b</td></tr><tr><td colspan=\"2\">c</td></tr></table>";
        var s = Html(table, table);
        Assert.Equal((1.0, 1.0), (s.Top, s.Con));
        Assert.Null(s.Loc); // no boxes in the HTML
    }

    [Fact]
    public void Top_scores_a_merged_header_by_relative_span_overlap()
    {
        // Gold: 2x2 plain cells, relative span [0,0,1,1] everywhere. Prediction merges row 0 into one colspan-2 cell:
        // positions (0,0) [0,0,2,1] and (0,1) [-1,0,1,1], each IoU 1/2 with [0,0,1,1]. Rows and columns align
        // diagonally, so the matched sum is 1/2 + 1/2 + 1 + 1 = 3 over 4 positions each side: F = 0.75.
        var s = Html("<table><tr><td colspan=\"2\">a</td></tr><tr><td>c</td><td>d</td></tr></table>",
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>");
        Assert.Equal(0.75, s.Top, 12);
    }

    [Fact]
    public void Con_uses_difflib_matching_blocks_and_a_missing_row_lowers_recall()
    {
        // "abed" vs "abcd": matching blocks "ab" + "d" = 3 characters, 2*3/8 = 0.75; the other three cells match:
        // (0.75 + 3) / 4 = 0.9375 on both sides.
        var s = Html("<table><tr><td>abed</td><td>c</td></tr><tr><td>d</td><td>e</td></tr></table>",
            "<table><tr><td>abcd</td><td>c</td></tr><tr><td>d</td><td>e</td></tr></table>");
        Assert.Equal(0.9375, s.Con, 12);
        Assert.Equal(1.0, s.Top, 12);

        // Gold 3x2, prediction misses the last row: 4 matched positions, precision 4/4, recall 4/6, F = 0.8.
        var missing = Html("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>",
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr><tr><td>e</td><td>f</td></tr></table>");
        Assert.Equal(0.8, missing.Con, 12);
        Assert.Equal(0.8, missing.Top, 12);
    }

    [Fact]
    public void Loc_divides_the_intersection_by_the_enclosing_rectangle()
    {
        // Boxes [0,0,2,2] and [1,1,3,3]: intersection 1, enclosing rectangle [0,0,3,3] = 9 -> 1/9 (a union would give 1/7).
        static TableGrid One(Box box) => new(1, 1, 0, [new TableCell(0, 0, 1, 1, false, "x", box)]);
        var s = Grits.Score(One(new Box(1, 1, 3, 3)), One(new Box(0, 0, 2, 2)));
        Assert.Equal(1.0 / 9, s.Loc!.Value, 12);
        Assert.Equal(1.0, s.Top, 12);
    }

    [Fact]
    public void Text_similarity_matches_python_difflib()
    {
        var random = new Random(7);
        const string alphabet = "ab c.1é";
        var pairs = new List<(string A, string B)> { ("", ""), ("abc", ""), ("abcd", "abed") };
        for (var i = 0; i < 200; i++)
        {
            // Some strings pass difflib's 200-character autojunk threshold.
            string Make() => new([.. Enumerable.Range(0, random.Next(i % 10 == 0 ? 260 : 30)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            pairs.Add((Make(), Make()));
        }

        const string script = """
            import json, sys
            from difflib import SequenceMatcher
            out = []
            for a, b in json.load(sys.stdin):
                m = sum(block.size for block in SequenceMatcher(None, a, b).get_matching_blocks())
                out.append(1.0 if not a and not b else 2 * m / (len(a) + len(b)))
            json.dump(out, sys.stdout)
            """;
        var input = new JsonArray(pairs.Select(p => (JsonNode)new JsonArray(p.A, p.B)).ToArray()).ToJsonString();
        var expected = JsonSerializer.Deserialize<double[]>(References.Run(References.Python, ["-c", script], input))!;
        for (var i = 0; i < pairs.Count; i++)
        {
            Assert.True(Math.Abs(Grits.LcsSimilarity(pairs[i].A, pairs[i].B) - expected[i]) < 1e-12, $"pair {i}: '{pairs[i].A}' '{pairs[i].B}'");
        }
    }
}
