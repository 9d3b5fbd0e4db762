// Generation-loop overhead benchmark (issue 3): wall time of PaliGemmaModel.GenerateAsync against the
// sum of the ONNX Runtime Run() times inside it, and against transformers.js on the same checkpoint.
// Usage (repository root):
//   dotnet run -c Release --project bench/inference -- [--root models/test-checkpoint] [--size 224]
//       [--reps 15] [--max-new 24] [--no-js]
// transformers.js needs `npm ci` in tools/jsref. Prints a Markdown table of medians.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PaliGemma2.DocPipeline.Inference;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

var root = Arg("--root", "models/test-checkpoint");
var size = int.Parse(Arg("--size", "224"), CultureInfo.InvariantCulture);
var reps = int.Parse(Arg("--reps", "15"), CultureInfo.InvariantCulture);
var maxNew = int.Parse(Arg("--max-new", "24"), CultureInfo.InvariantCulture);
var withJs = !args.Contains("--no-js");
var images = Enumerable.Range(0, 3).Select(i => Image.Load<Rgb24>(Path.Combine(root, "images", $"img{i}-{size}.png"))).ToArray();

Console.WriteLine($"| batch | graphs | C# wall (ms) | C# Σ ORT Run (ms) | overhead wall/ΣRun | C# loop/ΣRun | tokens/seq | transformers.js (ms) | C# ÷ transformers.js |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
foreach (var batch in new[] { 1, 4 })
{
    foreach (var style in batch == 1 ? new[] { $"{size}", $"{size}-community" } : new[] { $"{size}" })
    {
        using var model = PaliGemmaModel.Load(Path.Combine(root, style), options: new PaliGemmaLoadOptions { PreferCuda = false });
        var requests = Enumerable.Range(0, batch).Select(i => new GenerationRequest(images[i % 3], "caption en", maxNew)).ToArray();
        var wall = new List<double>();
        var ort = new List<double>();
        var loop = new List<double>();
        var jsMs = new List<double>();
        var tokens = 0;

        // transformers.js runs the onnx-community graphs; compare it with the C# row on the same graphs at
        // batch 1, and with the batch-capable row at batch 4 (the only C# row there). C# and JS alternate
        // in blocks so that both see the same background load on a shared machine.
        var community = style.EndsWith("community", StringComparison.Ordinal);
        var compareJs = withJs && (community || batch > 1);
        _ = await model.GenerateAsync(requests); // warm-up
        var blocks = Math.Max(1, Math.Min(5, reps));
        for (var block = 0; block < blocks; block++)
        {
            var n = (reps / blocks) + (block < reps % blocks ? 1 : 0);
            for (var r = 0; r < n; r++)
            {
                var sw = Stopwatch.StartNew();
                var results = await model.GenerateAsync(requests);
                sw.Stop();
                var t = results[0].Timings;
                wall.Add(sw.Elapsed.TotalMilliseconds);
                ort.Add(t.OrtRunTotal.TotalMilliseconds);
                loop.Add((t.Encode + t.Prefill + t.DecodeSteps.Aggregate(TimeSpan.Zero, (a, b) => a + b)).TotalMilliseconds);
                tokens = results.Min(x => x.TokenIds.Count);
            }

            if (compareJs)
            {
                jsMs.AddRange(RunJs(root, size, batch, n, maxNew));
            }
        }

        var ratios = wall.Zip(ort, (w, o) => w / o).ToList();
        var loopRatios = loop.Zip(ort, (l, o) => l / o).ToList();
        string js = "–", vs = "–";
        if (compareJs)
        {
            js = F(Median(jsMs));
            vs = F(Median(wall) / Median(jsMs), "0.00");
        }

        Console.WriteLine($"| {batch} | {(style.EndsWith("community", StringComparison.Ordinal) ? "onnx-community (no mask)" : "batch-capable (mask)")} | {F(Median(wall))} | {F(Median(ort))} | {F(Median(ratios), "0.000")} | {F(Median(loopRatios), "0.000")} | {tokens} | {js} | {vs} |");
    }
}

foreach (var image in images)
{
    image.Dispose();
}

string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static string F(double value, string format = "0.0") => value.ToString(format, CultureInfo.InvariantCulture);

static List<double> RunJs(string root, int size, int batch, int reps, int maxNew)
{
    var jsref = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(root))!, "..", "tools", "jsref");
    var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = jsref };
    foreach (var a in new[] { "bench.mjs", Path.GetFullPath(root), $"{size}", $"{batch}", $"{reps}", $"{maxNew}" })
    {
        psi.ArgumentList.Add(a);
    }

    using var p = Process.Start(psi)!;
    var stderr = p.StandardError.ReadToEndAsync();
    var stdout = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException("node bench.mjs failed: " + stderr.Result);
    }

    using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    return [.. doc.RootElement.GetProperty("ms").EnumerateArray().Select(e => e.GetDouble())];
}
