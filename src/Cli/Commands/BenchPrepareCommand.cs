using Microsoft.Extensions.Logging.Abstractions;
using PaliGemma2.DocPipeline.Documents.Sandbox;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Pdf;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Pipeline.Preparation;
using PaliGemma2.DocPipeline.Storage.Blobs;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// <c>docpipe bench-prepare</c>: preparation of a generated N-page table PDF, whole stage
/// (PdfPig text + render + PNG + blob store) against the renderer alone, for both renderers,
/// in one run. Prints a Markdown table of medians.
/// </summary>
internal static class BenchPrepareCommand
{
    public static Command Create()
    {
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 50, Description = "Pages in the generated PDF" };
        var runs = new Option<int>("--runs") { DefaultValueFactory = _ => 5, Description = "Repetitions per measurement (median reported)" };
        var resolution = new Option<int>("--resolution") { DefaultValueFactory = _ => 896, Description = "Long side in pixels" };
        var command = new Command("bench-prepare", "Benchmark PDF preparation and both renderers") { pages, runs, resolution };
        command.SetAction((r, ct) => RunAsync(r.GetValue(pages), r.GetValue(runs), r.GetValue(resolution), ct));
        return command;
    }

    private static async Task<int> RunAsync(int pageCount, int runs, int resolution, CancellationToken ct)
    {
        var work = Path.Combine(Path.GetTempPath(), "docpipe-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var pdf = Path.Combine(work, "tables.pdf");
            await File.WriteAllBytesAsync(pdf, BuildTablePdf(pageCount), ct).ConfigureAwait(false);
            Console.WriteLine($"# Preparation benchmark: {pageCount}-page table PDF at {resolution} px, median of {runs} runs");
            Console.WriteLine();
            Console.WriteLine($"Machine: {MachineName()}");
            Console.WriteLine();
            Console.WriteLine("| renderer | renderer alone (pages/s) | whole stage (pages/s) | stage / renderer time |");
            Console.WriteLine("|---|---|---|---|");
            // One sandbox for all runs, as a host has: its decoder processes live on between documents.
            using var sandbox = new DecodeSandbox(new SandboxOptions(), NullLogger<DecodeSandbox>.Instance);
            foreach (var kind in Enum.GetValues<PdfRendererKind>())
            {
                var renderOptions = new PdfRenderOptions { Renderer = kind, PagesPerRun = pageCount };
                var renderer = new PdfRenderer(renderOptions);
                var renderTimes = new List<double>();
                var stageTimes = new List<double>();
                // Run 0 is a warm-up (JIT, decoder start, file cache) and is not counted.
                for (var i = 0; i <= runs; i++)
                {
                    var outDir = Path.Combine(work, $"r-{kind}-{i}");
                    var sw = Stopwatch.StartNew();
                    await renderer.RenderAsync(pdf, 1, pageCount, resolution, outDir, ct).ConfigureAwait(false);
                    var renderSeconds = sw.Elapsed.TotalSeconds;
                    Directory.Delete(outDir, recursive: true);

                    var blobs = new FileSystemBlobStore(Path.Combine(work, $"blobs-{kind}-{i}"));
                    await using (var src = File.OpenRead(pdf))
                    {
                        await blobs.PutAsync(src, ct).ConfigureAwait(false);
                    }

                    var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(pdf, ct).ConfigureAwait(false)));
                    var preparer = new PagePreparer(blobs, Options.Create(new PreparationOptions { ScratchRoot = work }), Options.Create(new IntakeOptions()), Options.Create(renderOptions), Options.Create(new ImageLimits()), Options.Create(PaliGemma2.DocPipeline.Documents.Dicom.DicomLimits.Default), sandbox);
                    sw.Restart();
                    var prepared = await preparer.PrepareAsync(key, "application/pdf", "table", resolution, ct).ConfigureAwait(false);
                    if (i > 0)
                    {
                        renderTimes.Add(renderSeconds);
                        stageTimes.Add(sw.Elapsed.TotalSeconds);
                    }

                    if (prepared.Pages.Count != pageCount)
                    {
                        throw new InvalidOperationException($"Expected {pageCount} pages, got {prepared.Pages.Count}.");
                    }
                }

                var render = Median(renderTimes);
                var stage = Median(stageTimes);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {kind.ToString().ToLowerInvariant()} | {pageCount / render:0.0} | {pageCount / stage:0.0} | {stage / render:0.00} |"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[(xs.Count / 2) - 1] + xs[xs.Count / 2]) / 2;
    }

    private static string MachineName()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return $"{Environment.OSVersion}, {Environment.ProcessorCount} cores, {cpu ?? "unknown CPU"}";
    }

    /// <summary>A born-digital table per page: ruled grid with numbers, like a financial report.</summary>
    internal static byte[] BuildTablePdf(int pageCount)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        for (var p = 0; p < pageCount; p++)
        {
            var page = builder.AddPage(PageSize.A4);
            page.AddText($"Table {p + 1}: quarterly results", 14, new PdfPoint(60, 780), font);
            const int rows = 20, cols = 5;
            const double left = 60, top = 740, w = 95, h = 30;
            for (var r = 0; r <= rows; r++)
            {
                page.DrawLine(new PdfPoint(left, top - (r * h)), new PdfPoint(left + (cols * w), top - (r * h)));
            }

            for (var c = 0; c <= cols; c++)
            {
                page.DrawLine(new PdfPoint(left + (c * w), top), new PdfPoint(left + (c * w), top - (rows * h)));
            }

            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < cols; c++)
                {
                    var text = r == 0 ? $"Col {c + 1}" : ((p * 997) + (r * 31) + (c * 7)).ToString(CultureInfo.InvariantCulture);
                    page.AddText(text, 10, new PdfPoint(left + (c * w) + 6, top - (r * h) - 19), font);
                }
            }
        }

        return builder.Build();
    }
}
