using System.Globalization;
using System.Text.Json;
using PaliGemma2.DocPipeline.Documents.Pdf;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace PaliGemma2.DocPipeline.Tasks.Tests;

/// <summary>A born-digital page made here: cell texts must come out exactly as written into the PDF.</summary>
public sealed class BornDigitalTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tasks-pdf-").FullName;

    private static readonly string[][] Cells =
    [
        ["Region", "Revenue 2026", "Change"],
        ["North America", "1,234.5", "+3.2 %"],
        ["Europe", "987.0", "-0.4 %"],
    ];

    private const double Left = 60, Top = 740, W = 150, H = 30; // PDF points, bottom-left origin

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Cell_text_comes_from_the_pdf_words_inside_each_box()
    {
        var path = Path.Combine(_dir, "table.pdf");
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        var page = builder.AddPage(PageSize.A4);
        for (var r = 0; r < Cells.Length; r++)
        {
            for (var c = 0; c < Cells[r].Length; c++)
            {
                page.AddText(Cells[r][c], 10, new PdfPoint(Left + (c * W) + 6, Top - (r * H) - 19), font);
            }
        }

        File.WriteAllBytes(path, builder.Build());
        var info = PdfInspector.Inspect(path, new PdfRenderOptions());
        var layer = PageText.Parse(JsonSerializer.Serialize(info.Pages[0]));
        Assert.NotNull(layer);

        // The prepared image: long side 224 (the page is portrait), as preparation renders it.
        var imageH = 224;
        var imageW = (int)Math.Round(layer.Width * imageH / layer.Height, MidpointRounding.AwayFromZero);
        var ctx = new PostProcessingContext { Resolution = 224, FitMode = FitMode.PadToSquare, ImageWidth = imageW, ImageHeight = imageH, TextLayer = layer };
        var offsetX = (224 - imageW) / 2;

        // The model's answer: right structure and boxes, misread texts.
        var html = new System.Text.StringBuilder("<table>");
        for (var r = 0; r < Cells.Length; r++)
        {
            html.Append("<tr>");
            for (var c = 0; c < Cells[r].Length; c++)
            {
                var x0 = Left + (c * W);
                var y0 = layer.Height - Top + (r * H); // top-left origin
                html.Append(CultureInfo.InvariantCulture, $"<td coords=\"{Loc((x0 * imageW / layer.Width) + offsetX)}{Loc(y0 * imageH / layer.Height)}"
                    + $"{Loc(((x0 + W) * imageW / layer.Width) + offsetX)}{Loc((y0 + H) * imageH / layer.Height)}\">misread {r}{c}</td>");
            }

            html.Append("</tr>");
        }

        var result = TaskPostProcessor.Process("table_html", html.Append("</table>").ToString(), ctx);
        Assert.True(result.Valid, string.Join("; ", result.Errors));
        Assert.Equal("pt", (string)result.Payload["boxUnits"]!);
        var cells = result.Payload["cells"]!.AsArray();
        for (var i = 0; i < cells.Count; i++)
        {
            var (r, c) = (i / 3, i % 3);
            Assert.Equal(Cells[r][c], (string)cells[i]!["text"]!);
            Assert.Equal($"misread {r}{c}", (string)cells[i]!["modelText"]!);
            // The box maps back to the cell within a loc bin (~0.9 pt at 224 px on A4).
            Assert.Equal(Left + (c * W), (double)cells[i]!["box"]!["x0"]!, 0);
        }

        Assert.Contains("<td>North America</td>", (string)result.Payload["html"]!, StringComparison.Ordinal);
    }

    private static string Loc(double inputPixels) =>
        $"<loc{Math.Clamp((int)Math.Round(inputPixels / 224 * 1024), 0, 1023).ToString("D4", CultureInfo.InvariantCulture)}>";
}
