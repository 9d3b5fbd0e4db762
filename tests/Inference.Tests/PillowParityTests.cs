using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// The preprocessor's resampling and normalisation against Debian's Pillow (python3-pil) on real pages:
/// texlive documentation PDFs rendered by mutool at several sizes, RGB and greyscale, fitted to
/// 224/448/896 by both filters and both fits.
/// </summary>
public sealed class PillowParityTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int[] Widths = [250, 480, 713, 1000, 1275, 1651];
    private static readonly int[] Resolutions = [224, 448, 896];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pg-pil-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Resampled_pages_and_tensors_match_pillow_within_one_level()
    {
        Directory.CreateDirectory(_dir);
        var pdfs = TexliveDocPdfs().Take(32).ToList();
        Assert.True(pdfs.Count >= 30, $"texlive-latex-base-doc provides {pdfs.Count} PDFs; the proof needs 30 (bash scripts/install-deps.sh)");

        var cases = new List<Case>();
        for (var i = 0; i < pdfs.Count; i++)
        {
            var gray = i % 3 == 2;
            var source = Path.Combine(_dir, $"page{i}.{(gray ? "pgm" : "ppm")}");
            TestEnvironment.RunProcess("mutool", ["draw", "-q", "-o", source, "-w", Widths[i % Widths.Length].ToString(CultureInfo.InvariantCulture), "-c", gray ? "gray" : "rgb", pdfs[i], "1"]);
            cases.Add(NewCase($"page{i}", source, Resolutions[i % 3], i % 2 == 0 ? "bicubic" : "bilinear", (i / 2) % 2 == 0 ? "resize" : "pad"));
        }

        // Noise at odd shapes: every rounding and clipping case a page's flat areas would hide.
        (int W, int H)[] odd = [(1, 7), (5, 1), (3, 1000), (997, 13), (223, 225), (2000, 31), (17, 17), (640, 480)];
        var random = new Random(10);
        for (var i = 0; i < odd.Length; i++)
        {
            var (w, h) = odd[i];
            var gray = i % 2 == 1;
            var pixels = new byte[w * h * (gray ? 1 : 3)];
            random.NextBytes(pixels);
            var source = Path.Combine(_dir, $"noise{i}.{(gray ? "pgm" : "ppm")}");
            Pnm.Write(source, w, h, gray, pixels);
            cases.Add(NewCase($"noise{i}", source, Resolutions[i % 3], i % 2 == 0 ? "bilinear" : "bicubic", i % 4 < 2 ? "pad" : "resize"));
        }

        var manifest = Path.Combine(_dir, "manifest.json");
        File.WriteAllText(manifest, JsonSerializer.Serialize(cases.Select(c => c.Manifest)));
        var reference = TestEnvironment.RunProcess(TestEnvironment.Python, [TestEnvironment.Script("pil_resize_ref.py"), manifest]);
        output.WriteLine($"reference: {reference.Trim()}");

        long pixelsCompared = 0, sumDiff = 0, tensorCount = 0;
        int worst = 0;
        double worstTensor = 0, sumTensor = 0;
        var timer = new Stopwatch();
        foreach (var c in cases)
        {
            var (w, h, gray, data) = Pnm.Read(c.Source);
            var rgb = gray ? ImagePreprocessor.GrayToRgb(data) : data;
            var pre = new ImagePreprocessor(c.Resolution, c.Fit, c.Filter, c.Pad);
            timer.Start();
            var square = pre.ToSquareRgb(rgb, w, h);
            timer.Stop();
            var expected = File.ReadAllBytes(Path.Combine(_dir, c.Id + ".fit.rgb"));
            var caseWorst = Compare(expected, square, ref sumDiff);
            pixelsCompared += expected.Length;
            worst = Math.Max(worst, caseWorst);

            var tensor = new float[pre.ImageElementCount];
            pre.Process(rgb, w, h, tensor);
            var expectedTensor = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(_dir, c.Id + ".tensor.f32")));
            Assert.Equal(expectedTensor.Length, tensor.Length);
            var caseTensor = 0.0;
            for (var i = 0; i < tensor.Length; i++)
            {
                var d = Math.Abs((double)tensor[i] - expectedTensor[i]);
                caseTensor = Math.Max(caseTensor, d);
                sumTensor += d;
            }

            tensorCount += tensor.Length;
            worstTensor = Math.Max(worstTensor, caseTensor);
            if (gray)
            {
                // The single-channel path on its own against Pillow's "L" resize.
                var (fw, fh) = pre.FittedSize(w, h);
                var ours = new byte[fw * fh];
                PillowResampler.Resize(data, w, h, 1, ours, fw, fh, fw, c.Filter);
                long ignored = 0;
                Assert.True(Compare(File.ReadAllBytes(Path.Combine(_dir, c.Id + ".gray.raw")), ours, ref ignored) <= 1, $"{c.Id}: greyscale resample differs by more than one level");
            }

            output.WriteLine($"{c.Id}: {w}x{h} {(gray ? "gray" : "rgb")} -> {c.Resolution} {c.Manifest["filter"]} {c.Manifest["fit"]}: max |diff| {caseWorst} levels, tensor {caseTensor:E2}");
            Assert.True(caseWorst <= 1, $"{c.Id}: max |Pillow - C#| = {caseWorst} levels");
            Assert.True(caseTensor <= 2.0 / 255 + 1e-6, $"{c.Id}: max tensor |diff| = {caseTensor}");
        }

        output.WriteLine($"{cases.Count} cases ({pdfs.Count} PDF pages), {pixelsCompared} samples: max |diff| {worst} levels, mean {(double)sumDiff / pixelsCompared:E3}; tensor max {worstTensor:E3}, mean {sumTensor / tensorCount:E3}; C# fit time {timer.ElapsedMilliseconds} ms");
    }

    private Case NewCase(string id, string source, int resolution, string filter, string fit)
    {
        var (w, h, _, _) = Pnm.ReadHeader(source);
        var mode = fit == "pad" ? ImageMode.Pad : ImageMode.Resize;
        var pad = fit == "pad" && id.StartsWith("noise", StringComparison.Ordinal) ? new PadColor(0, 0, 0) : PadColor.White;
        var resample = filter == "bicubic" ? Resample.Bicubic : Resample.Bilinear;
        var (fw, fh) = new ImagePreprocessor(resolution, mode, resample, pad).FittedSize(w, h);
        var manifest = new Dictionary<string, object>
        {
            ["id"] = id, ["source"] = source, ["resolution"] = resolution, ["filter"] = filter, ["fit"] = fit,
            ["fitted_width"] = fw, ["fitted_height"] = fh, ["pad"] = new int[] { pad.R, pad.G, pad.B },
        };
        return new Case(id, source, resolution, mode, resample, pad, manifest);
    }

    private static int Compare(byte[] expected, byte[] actual, ref long sum)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs(expected[i] - actual[i]);
            worst = Math.Max(worst, d);
            sum += d;
        }

        return worst;
    }

    private static IEnumerable<string> TexliveDocPdfs() =>
        TestEnvironment.RunProcess("dpkg", ["-L", "texlive-latex-base-doc"])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(p => p.EndsWith(".pdf", StringComparison.Ordinal) && File.Exists(p))
            .Order(StringComparer.Ordinal);

    private sealed record Case(string Id, string Source, int Resolution, ImageMode Fit, Resample Filter, PadColor Pad, Dictionary<string, object> Manifest);

    /// <summary>Binary PGM (P5) / PPM (P6) with maxval 255, as mutool writes them.</summary>
    private static class Pnm
    {
        public static (int Width, int Height, bool Gray, int DataOffset) ReadHeader(string path)
        {
            using var stream = File.OpenRead(path);
            var head = new byte[256];
            var n = stream.Read(head);
            return Parse(head.AsSpan(0, n));
        }

        public static (int Width, int Height, bool Gray, byte[] Data) Read(string path)
        {
            var bytes = File.ReadAllBytes(path);
            var (w, h, gray, offset) = Parse(bytes);
            return (w, h, gray, bytes.AsSpan(offset, w * h * (gray ? 1 : 3)).ToArray());
        }

        public static void Write(string path, int width, int height, bool gray, byte[] pixels)
        {
            using var stream = File.Create(path);
            stream.Write(Encoding.ASCII.GetBytes($"{(gray ? "P5" : "P6")}\n{width} {height}\n255\n"));
            stream.Write(pixels);
        }

        private static (int, int, bool, int) Parse(ReadOnlySpan<byte> b)
        {
            var pos = 0;
            var tokens = new string[4];
            for (var t = 0; t < 4; t++)
            {
                while (pos < b.Length && (char.IsWhiteSpace((char)b[pos]) || b[pos] == '#'))
                {
                    if (b[pos] == '#')
                    {
                        while (b[pos] != '\n')
                        {
                            pos++;
                        }
                    }

                    pos++;
                }

                var start = pos;
                while (!char.IsWhiteSpace((char)b[pos]))
                {
                    pos++;
                }

                tokens[t] = Encoding.ASCII.GetString(b[start..pos]);
            }

            if (tokens[0] is not ("P5" or "P6") || tokens[3] != "255")
            {
                throw new InvalidDataException($"not an 8-bit binary PGM/PPM: {tokens[0]} maxval {tokens[3]}");
            }

            return (int.Parse(tokens[1], CultureInfo.InvariantCulture), int.Parse(tokens[2], CultureInfo.InvariantCulture), tokens[0] == "P5", pos + 1);
        }
    }
}
