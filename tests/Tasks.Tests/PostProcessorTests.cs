using System.Text.Json.Nodes;
using PaliGemma2.DocPipeline.Tasks.Molecules;
using PaliGemma2.DocPipeline.Tasks.Reports;
using PaliGemma2.DocPipeline.Tasks.Scores;
using PaliGemma2.DocPipeline.Tasks.Tables;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

public sealed class PostProcessorTests
{
    private static readonly PostProcessingContext Square = new() { Resolution = 224, ImageWidth = 224, ImageHeight = 224 };

    [Fact]
    public void Table_with_spans_and_coords_builds_the_grid_and_boxes()
    {
        // The paper's format: cell boxes as four loc tokens (x-min, y-min, x-max, y-max) in a coords attribute.
        const string html = "<table><thead><tr><td rowspan=\"2\" coords=\"<loc0000><loc0000><loc0512><loc0256>\">Item</td>"
            + "<td colspan=\"2\" coords=\"<loc0512><loc0000><loc1023><loc0128>\">Year</td></tr>"
            + "<tr><td>2025</td><td>2026</td></tr></thead>"
            + "<tbody><tr><td>Sales</td><td>1</td><td>2</td></tr></tbody></table>";
        var r = TaskPostProcessor.Process("table_html", html, Square);
        Assert.True(r.Valid, string.Join("; ", r.Errors));
        var p = r.Payload;
        Assert.Equal(3, (int)p["rows"]!);
        Assert.Equal(3, (int)p["cols"]!);
        var cells = p["cells"]!.AsArray();
        Assert.Equal(7, cells.Count);
        var year = cells[1]!;
        Assert.Equal(0, (int)year["row"]!);
        Assert.Equal(1, (int)year["col"]!);
        Assert.Equal(2, (int)year["colSpan"]!);
        Assert.True((bool)year["header"]!);
        // 2025 is placed after the rowspan of Item: column 1 of row 1.
        Assert.Equal(1, (int)cells[2]!["col"]!);
        // loc 512 of 1024 over a 224 px square input = 112 px.
        Assert.Equal(112, (double)cells[0]!["box"]!["x1"]!, 3);
        Assert.Equal(56, (double)cells[0]!["box"]!["y1"]!, 3);
        Assert.Equal("px", (string)p["boxUnits"]!);
        Assert.Equal("<table><thead><tr><td rowspan=\"2\">Item</td><td colspan=\"2\">Year</td></tr><tr><td>2025</td><td>2026</td></tr></thead>"
            + "<tbody><tr><td>Sales</td><td>1</td><td>2</td></tr></tbody></table>", (string)p["html"]!);
    }

    [Fact]
    public void Table_coords_in_detection_order_and_through_padding()
    {
        // A 112 x 224 image padded to 224: 56 px of white on each side; y-first order as in PaliGemma detection.
        var ctx = new PostProcessingContext { Resolution = 224, ImageWidth = 112, ImageHeight = 224, BoxOrder = BoxOrder.YXYX };
        const string html = "<table><tr><td coords=\"<loc0000><loc0256><loc0512><loc0768>\">x</td></tr></table>";
        var r = TaskPostProcessor.Process("table_html", html, ctx);
        Assert.True(r.Valid, string.Join("; ", r.Errors));
        var box = r.Payload["cells"]![0]!["box"]!;
        Assert.Equal(0, (double)box["x0"]!, 3);   // x 56 px on the input = the image's left edge
        Assert.Equal(0, (double)box["y0"]!, 3);
        Assert.Equal(112, (double)box["x1"]!, 3); // x 168 px = right edge
        Assert.Equal(112, (double)box["y1"]!, 3);
    }

    [Fact]
    public void Table_html_is_sanitised()
    {
        const string html = "<table><tr><td onclick=\"steal()\">a<script>alert(1)</script><img src=x onerror=\"alert(2)\"></td>"
            + "<td><a href=\"javascript:alert(3)\">b</a> &lt;i&gt;</td></tr></table><script>alert(4)</script><style>td{}</style>";
        var r = TaskPostProcessor.Process("table_html", html, Square);
        Assert.True(r.Valid, string.Join("; ", r.Errors));
        var clean = (string)r.Payload["html"]!;
        Assert.Equal("<table><tbody><tr><td>a</td><td>b &lt;i&gt;</td></tr></tbody></table>", clean);
        foreach (var bad in new[] { "script", "onerror", "onclick", "javascript", "img", "style", "alert" })
        {
            Assert.DoesNotContain(bad, clean, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Table_repairs_unambiguous_html_and_rejects_the_rest()
    {
        // Missing <table> and closing tags: still one unambiguous 2 x 2 grid.
        var repaired = TaskPostProcessor.Process("table_html", "<tr><td>a<td>b</tr><tr><td>c<td>d", Square);
        Assert.True(repaired.Valid, string.Join("; ", repaired.Errors));
        Assert.Equal(2, (int)repaired.Payload["rows"]!);
        Assert.Equal(2, (int)repaired.Payload["cols"]!);
        Assert.Equal("d", (string)repaired.Payload["cells"]![3]!["text"]!);

        // Ragged rows: which cell is missing is ambiguous, so the result is invalid with the reason.
        var ragged = TaskPostProcessor.Process("table_html", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", Square);
        Assert.False(ragged.Valid);
        Assert.Contains(ragged.Errors, e => e.Contains("Row 1 covers 1 of 2 columns", StringComparison.Ordinal));

        var noise = TaskPostProcessor.Process("table_html", "Tabelle zzz <loc0001> unk", Square);
        Assert.False(noise.Valid);
        Assert.Equal("zzz", ((string)noise.Payload["text"]!).Split(' ')[1]);
        Assert.Null(noise.Payload["html"]);
        Assert.NotNull(noise.ErrorsJson);
    }

    [Fact]
    public void Smiles_syntax_is_checked_and_noise_is_invalid()
    {
        Assert.True(TaskPostProcessor.Process("smiles", "CC(=O)Oc1ccccc1C(=O)O", new()).Valid);
        Assert.True(TaskPostProcessor.Process("smiles", " [NH4+].[Cl-] ", new()).Valid);
        Assert.Equal("[NH4+].[Cl-]", (string)TaskPostProcessor.Process("smiles", " [NH4+].[Cl-] ", new()).Payload["smiles"]!);
        Assert.Contains(SmilesPostProcessor.Check("c1ccccc"), e => e.Contains("ring closure", StringComparison.Ordinal));
        Assert.Contains(SmilesPostProcessor.Check("CC(C"), e => e.Contains("unclosed '('", StringComparison.Ordinal));
        var noise = TaskPostProcessor.Process("smiles", "the quick brown fox", new());
        Assert.False(noise.Valid);
        Assert.Single(noise.Errors);
    }

    [Fact]
    public void Kern_with_spine_splits_and_joins()
    {
        const string kern = "**kern\t**kern\n*clefF4\t*clefG2\n*M4/4\t*M4/4\n=1\t=1\n4C\t4e\n*\t*^\n4D\t4f\t4a\n4E\t4g\t4cc\n*\t*v\t*v\n4r\t2c 2e\n=2\t=2\n1C\t1c\n==\t==\n*-\t*-";
        var s = KernPostProcessor.Parse(kern);
        Assert.Empty(s.Errors);
        Assert.Equal(2, s.Spines);
        Assert.Equal(3, s.MaxSpines);
        Assert.Equal(2, s.Measures);
        Assert.Equal(1, s.Rests);
        Assert.Equal(12, s.Notes);

        var r = TaskPostProcessor.Process("kern", kern, new());
        Assert.True(r.Valid, string.Join("; ", r.Errors));

        // The split spine needs three tokens per line; two is inconsistent.
        var broken = kern.Replace("4D\t4f\t4a", "4D\t4f", StringComparison.Ordinal);
        var b = TaskPostProcessor.Process("kern", broken, new());
        Assert.False(b.Valid);
        Assert.Contains(b.Errors, e => e.Contains("2 tokens for 3 spines", StringComparison.Ordinal));
    }

    [Fact]
    public void Bekern_tokens_are_expanded()
    {
        const string bekern = "**kern<t>**kern<b>=1<t>=1<b>4·c<t>4·e·#<b>*-<t>*-";
        var s = KernPostProcessor.Parse(bekern);
        Assert.Empty(s.Errors);
        Assert.Equal("**kern\t**kern\n=1\t=1\n4c\t4e#\n*-\t*-", s.Kern);
        Assert.Equal(2, s.Notes);
        Assert.False(TaskPostProcessor.Process("kern", "random words here", new()).Valid);
    }

    [Fact]
    public void Report_sections_are_split()
    {
        var (f, i) = ReportPostProcessor.Split("FINDINGS: The lungs are clear.\nNo effusion.\nimpression: No acute process.");
        Assert.Equal("The lungs are clear. No effusion.", f);
        Assert.Equal("No acute process.", i);
        var (f2, i2) = ReportPostProcessor.Split("Heart size is normal.  Lungs clear.");
        Assert.Equal("Heart size is normal. Lungs clear.", f2);
        Assert.Null(i2);
        var r = TaskPostProcessor.Process("report_sections", "Findings: clear. Impression: normal.", new() { StopReason = "EndOfSequence" });
        Assert.True(r.Valid, string.Join("; ", r.Errors));
        Assert.Equal("EndOfSequence", (string)r.Payload["stopReason"]!);
        Assert.False(TaskPostProcessor.Process("report_sections", "  ", new()).Valid);
    }

    [Fact]
    public void A_report_of_control_or_replacement_characters_is_invalid_with_the_reason()
    {
        var r = TaskPostProcessor.Process("report_sections", "Findings: lungs\u001f clear\ufffd. Impression: normal.", new());
        Assert.False(r.Valid);
        Assert.Contains(r.Errors, e => e.Contains("not plain text: 2 control or replacement", StringComparison.Ordinal));
    }

    [Fact]
    public void A_report_that_is_mostly_symbols_and_digits_is_implausible()
    {
        var r = TaskPostProcessor.Process("report_sections", "Findings: 12 %% 3.4 ## 5/6 [] 78 ** 9 x", new());
        Assert.False(r.Valid);
        Assert.Contains(r.Errors, e => e.Contains("implausible", StringComparison.Ordinal));
        var prose = TaskPostProcessor.Process("report_sections", "Findings: A 12 mm nodule in the right upper lobe, 3.4 cm from the hilum.\nImpression: Nodule; CT in 3 months.", new());
        Assert.True(prose.Valid, string.Join("; ", prose.Errors));
    }

    [Fact]
    public void Every_payload_validates_against_its_schema_and_broken_ones_do_not()
    {
        Assert.Equal(["molecule", "report", "score", "table", "text"], PayloadSchemas.Names);
        Assert.Empty(PayloadSchemas.Validate("molecule", new JsonObject { ["text"] = "C", ["stopReason"] = null, ["smiles"] = "C" }));
        Assert.NotEmpty(PayloadSchemas.Validate("molecule", new JsonObject { ["text"] = "C", ["stopReason"] = null }));
        Assert.NotEmpty(PayloadSchemas.Validate("score", new JsonObject { ["text"] = "x", ["spines"] = -1 }));
        var unknown = TaskPostProcessor.Process("ocr_magic", "x", new());
        Assert.False(unknown.Valid);
        Assert.Equal("x", (string)unknown.Payload["text"]!);
    }
}
