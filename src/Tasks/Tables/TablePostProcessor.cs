using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HtmlAgilityPack;

namespace PaliGemma2.DocPipeline.Tasks.Tables;

/// <summary>A box in some pixel or point space, top-left origin.</summary>
public readonly record struct Box(double X0, double Y0, double X1, double Y1)
{
    /// <summary>Area (0 when degenerate).</summary>
    public double Area => Math.Max(0, X1 - X0) * Math.Max(0, Y1 - Y0);

    /// <summary>Area shared with <paramref name="other"/>.</summary>
    public double Overlap(Box other) =>
        Math.Max(0, Math.Min(X1, other.X1) - Math.Max(X0, other.X0)) * Math.Max(0, Math.Min(Y1, other.Y1) - Math.Max(Y0, other.Y0));
}

/// <summary>One cell of the table grid; <paramref name="ModelBox"/> is normalised to [0, 1] of the model input.</summary>
public sealed record TableCell(int Row, int Col, int RowSpan, int ColSpan, bool Header, string ModelText, Box? ModelBox)
{
    /// <summary>The model wrote th (kept as th in the sanitised HTML; a td inside thead stays td).</summary>
    public bool Th { get; init; }
}

/// <summary>The parsed table: rows of cells as written, placed on a grid.</summary>
/// <param name="Rows">Grid rows.</param>
/// <param name="Cols">Grid columns.</param>
/// <param name="HeaderRows">How many leading rows were in thead.</param>
/// <param name="Cells">Cells in document order.</param>
public sealed record TableGrid(int Rows, int Cols, int HeaderRows, IReadOnlyList<TableCell> Cells);

/// <summary>
/// The table_html post-processor: parses the model's HTML (HtmlAgilityPack, which repairs unclosed tags),
/// keeps only table markup, places cells on a grid with their spans, maps the coords boxes back to
/// the page and, for born-digital PDFs, takes each cell's text from the PDF's own words.
/// </summary>
public static partial class TablePostProcessor
{
    private static readonly HashSet<string> Dropped = new(StringComparer.OrdinalIgnoreCase) { "script", "style", "iframe", "object", "embed", "template", "noscript" };

    [GeneratedRegex(@"<loc(\d{4})>", RegexOptions.CultureInvariant)]
    private static partial Regex LocToken();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Spaces();

    /// <summary>Builds the table payload; appends the reasons it is invalid to <paramref name="errors"/>.</summary>
    public static JsonObject Process(string text, PostProcessingContext context, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(errors);
        var grid = Parse(text, context.BoxOrder, errors);
        var units = context.TextLayer is not null && context.ImageWidth > 0 ? "pt" : "px";
        var cells = new JsonArray();
        var finalTexts = new List<string>();
        if (grid is not null)
        {
            foreach (var cell in grid.Cells)
            {
                var r = context.Resolution;
                Box? box = cell.ModelBox is { } b ? ToPage(new Box(b.X0 * r, b.Y0 * r, b.X1 * r, b.Y1 * r), context) : null;
                string? pdfText = box is { } pb && context.TextLayer is { } layer && context.ImageWidth > 0 ? WordsInside(layer, pb) : null;
                // The PDF's own words are exact where the model's reading may not be; keep both.
                var final = string.IsNullOrEmpty(pdfText) ? cell.ModelText : pdfText;
                finalTexts.Add(final);
                cells.Add(new JsonObject
                {
                    ["row"] = cell.Row,
                    ["col"] = cell.Col,
                    ["rowSpan"] = cell.RowSpan,
                    ["colSpan"] = cell.ColSpan,
                    ["header"] = cell.Header,
                    ["text"] = final,
                    ["modelText"] = cell.ModelText,
                    ["pdfText"] = pdfText,
                    ["box"] = box is { } bb ? new JsonObject
                    {
                        ["x0"] = Math.Round(bb.X0, 2), ["y0"] = Math.Round(bb.Y0, 2),
                        ["x1"] = Math.Round(bb.X1, 2), ["y1"] = Math.Round(bb.Y1, 2),
                    } : null,
                });
            }
        }

        return new JsonObject
        {
            ["html"] = grid is null ? null : ToHtml(grid, finalTexts),
            ["rows"] = grid?.Rows ?? 0,
            ["cols"] = grid?.Cols ?? 0,
            ["boxUnits"] = units,
            ["cells"] = cells,
        };
    }

    /// <summary>
    /// Parses the model's HTML into a grid. Returns null when there is no table at all; a table whose
    /// spans do not fit a rectangle is returned with the reasons added to <paramref name="errors"/>.
    /// </summary>
    public static TableGrid? Parse(string html, BoxOrder order, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var doc = new HtmlDocument { OptionFixNestedTags = true, OptionAutoCloseOnEnd = true };
        doc.LoadHtml(html ?? "");
        var tables = doc.DocumentNode.Descendants("table").ToList();
        if (tables.Count > 1)
        {
            errors.Add($"The output holds {tables.Count} tables; expected one.");
        }

        // Rows without a <table> around them (the model dropped the opening tag) are unambiguous: take them.
        var root = tables.Count > 0 ? tables[0] : doc.DocumentNode;
        var rows = root.Descendants("tr").Where(tr => Closest(tr, "table") == (tables.Count > 0 ? root : null)).ToList();
        if (rows.Count == 0)
        {
            errors.Add(tables.Count == 0 ? "No <table> or <tr> in the output." : "The table has no rows.");
            return null;
        }

        var occupied = new List<List<bool>>();
        var cells = new List<TableCell>();
        var headerRows = 0;
        var seenBody = false;
        for (var r = 0; r < rows.Count; r++)
        {
            var tr = rows[r];
            var inHead = Closest(tr, "thead") is not null;
            if (inHead && !seenBody)
            {
                headerRows = r + 1;
            }

            seenBody |= !inHead;
            var c = 0;
            foreach (var td in tr.Descendants().Where(n => n.Name is "td" or "th" && Closest(n, "tr") == tr))
            {
                while (IsSet(occupied, r, c))
                {
                    c++;
                }

                var rowSpan = Span(td, "rowspan");
                var colSpan = Span(td, "colspan");
                if (r + rowSpan > rows.Count)
                {
                    errors.Add($"Cell at row {r}, column {c} spans {rowSpan} rows but only {rows.Count - r} remain.");
                    rowSpan = rows.Count - r;
                }

                for (var dr = 0; dr < rowSpan; dr++)
                {
                    for (var dc = 0; dc < colSpan; dc++)
                    {
                        if (IsSet(occupied, r + dr, c + dc))
                        {
                            errors.Add($"Cell at row {r}, column {c} overlaps another cell at row {r + dr}, column {c + dc}.");
                        }

                        Set(occupied, r + dr, c + dc);
                    }
                }

                cells.Add(new TableCell(r, c, rowSpan, colSpan, inHead || td.Name == "th", CellText(td), ReadBox(td, order, errors, r, c)) { Th = td.Name == "th" });
                c += colSpan;
            }
        }

        var cols = occupied.Count == 0 ? 0 : occupied.Max(row => row.Count);
        for (var r = 0; r < rows.Count; r++)
        {
            var covered = r < occupied.Count ? occupied[r].Count(x => x) : 0;
            if (covered != cols)
            {
                errors.Add($"Row {r} covers {covered} of {cols} columns.");
            }
        }

        if (cells.Count == 0)
        {
            errors.Add("The table has no cells.");
        }

        return new TableGrid(rows.Count, cols, headerRows, cells);
    }

    /// <summary>Maps a box in model-input pixels (R x R) back to the page: image pixels, then PDF points when there is a text layer.</summary>
    public static Box ToPage(Box input, PostProcessingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        double w = context.ImageWidth, h = context.ImageHeight, r = context.Resolution;
        if (w <= 0 || h <= 0)
        {
            return input;
        }

        double sx, sy, ox = 0, oy = 0;
        if (context.FitMode == FitMode.Resize)
        {
            (sx, sy) = (w / r, h / r);
        }
        else
        {
            // Same arithmetic as the preprocessor: longer side to R, rounded, centred with integer offsets.
            var longer = Math.Max(w, h);
            var fw = Math.Max(1, Math.Round(w * r / longer, MidpointRounding.AwayFromZero));
            var fh = Math.Max(1, Math.Round(h * r / longer, MidpointRounding.AwayFromZero));
            ox = Math.Floor((r - fw) / 2);
            oy = Math.Floor((r - fh) / 2);
            (sx, sy) = (w / fw, h / fh);
        }

        var px = new Box(
            Math.Clamp((input.X0 - ox) * sx, 0, w), Math.Clamp((input.Y0 - oy) * sy, 0, h),
            Math.Clamp((input.X1 - ox) * sx, 0, w), Math.Clamp((input.Y1 - oy) * sy, 0, h));
        if (context.TextLayer is not { } layer)
        {
            return px;
        }

        var kx = layer.Width / w;
        var ky = layer.Height / h;
        return new Box(px.X0 * kx, px.Y0 * ky, px.X1 * kx, px.Y1 * ky);
    }

    /// <summary>The page's words whose area lies mostly (over half) inside <paramref name="box"/>, in reading order.</summary>
    public static string WordsInside(PageText layer, Box box)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var words = layer.Words
            .Select(w => (Word: w, Box: new Box(w.X0, w.Y0, w.X1, w.Y1)))
            .Where(w => w.Box.Area > 0 && w.Box.Overlap(box) / w.Box.Area > 0.5)
            .OrderBy(w => w.Box.Y0)
            .ToList();
        // Lines: a word joins the current line when its vertical centre lies within the line's first word.
        var lines = new List<List<(PageWord Word, Box Box)>>();
        foreach (var w in words)
        {
            var cy = (w.Box.Y0 + w.Box.Y1) / 2;
            if (lines.Count > 0 && cy >= lines[^1][0].Box.Y0 && cy <= lines[^1][0].Box.Y1)
            {
                lines[^1].Add(w);
            }
            else
            {
                lines.Add([w]);
            }
        }

        return string.Join(' ', lines.SelectMany(l => l.OrderBy(w => w.Box.X0)).Select(w => w.Word.Text));
    }

    /// <summary>Sanitised HTML: only table, thead, tbody, tr, th, td with rowspan/colspan; text encoded.</summary>
    public static string ToHtml(TableGrid grid, IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(texts);
        var sb = new StringBuilder("<table>");
        for (var r = 0; r < grid.Rows; r++)
        {
            if (r == 0)
            {
                sb.Append(grid.HeaderRows > 0 ? "<thead>" : "<tbody>");
            }
            else if (r == grid.HeaderRows)
            {
                sb.Append("</thead><tbody>");
            }

            sb.Append("<tr>");
            for (var i = 0; i < grid.Cells.Count; i++)
            {
                var cell = grid.Cells[i];
                if (cell.Row != r)
                {
                    continue;
                }

                var tag = cell.Th ? "th" : "td";
                sb.Append('<').Append(tag);
                if (cell.RowSpan > 1)
                {
                    sb.Append(CultureInfo.InvariantCulture, $" rowspan=\"{cell.RowSpan}\"");
                }

                if (cell.ColSpan > 1)
                {
                    sb.Append(CultureInfo.InvariantCulture, $" colspan=\"{cell.ColSpan}\"");
                }

                sb.Append('>').Append(WebUtility.HtmlEncode(texts[i])).Append("</").Append(tag).Append('>');
            }

            sb.Append("</tr>");
        }

        sb.Append(grid.HeaderRows >= grid.Rows ? "</thead>" : "</tbody>");
        return sb.Append("</table>").ToString();
    }

    private static Box? ReadBox(HtmlNode td, BoxOrder order, List<string> errors, int row, int col)
    {
        var coords = td.GetAttributeValue("coords", null);
        if (coords is null)
        {
            return null;
        }

        var locs = LocToken().Matches(WebUtility.HtmlDecode(coords)).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        if (locs.Count != 4 || locs.Any(v => v > 1023))
        {
            errors.Add($"Cell at row {row}, column {col}: coords must hold four <loc0000>-<loc1023> tokens.");
            return null;
        }

        var (x0, y0, x1, y1) = order == BoxOrder.XYXY ? (locs[0], locs[1], locs[2], locs[3]) : (locs[1], locs[0], locs[3], locs[2]);
        // Quantised to 1024 bins over the model input; the caller scales to R.
        return new Box(x0 / 1024.0, y0 / 1024.0, x1 / 1024.0, y1 / 1024.0);
    }

    private static string CellText(HtmlNode td)
    {
        var sb = new StringBuilder();
        Append(td, sb, td);
        return Spaces().Replace(WebUtility.HtmlDecode(sb.ToString()), " ").Trim();

        static void Append(HtmlNode node, StringBuilder sb, HtmlNode cell)
        {
            foreach (var child in node.ChildNodes)
            {
                if (child.NodeType == HtmlNodeType.Text)
                {
                    sb.Append(((HtmlTextNode)child).Text);
                }
                else if (child.NodeType == HtmlNodeType.Element && !Dropped.Contains(child.Name) && child.Name is not ("td" or "th" or "tr"))
                {
                    // Inline markup (b, i, sup, span) keeps its text; br separates words.
                    if (child.Name == "br")
                    {
                        sb.Append(' ');
                    }

                    Append(child, sb, cell);
                }
            }
        }
    }

    private static HtmlNode? Closest(HtmlNode node, string name)
    {
        for (var p = node.ParentNode; p is not null; p = p.ParentNode)
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p;
            }
        }

        return null;
    }

    private static int Span(HtmlNode td, string attribute) =>
        int.TryParse(td.GetAttributeValue(attribute, "1"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? Math.Clamp(v, 1, 1000) : 1;

    private static bool IsSet(List<List<bool>> grid, int r, int c) => r < grid.Count && c < grid[r].Count && grid[r][c];

    private static void Set(List<List<bool>> grid, int r, int c)
    {
        while (grid.Count <= r)
        {
            grid.Add([]);
        }

        while (grid[r].Count <= c)
        {
            grid[r].Add(false);
        }

        grid[r][c] = true;
    }
}
