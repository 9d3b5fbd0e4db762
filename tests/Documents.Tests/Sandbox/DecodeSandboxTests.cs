using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Documents.Images;
using PaliGemma2.DocPipeline.Documents.Sandbox;
using PaliGemma2.DocPipeline.Documents.Tests.Dicom;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Documents.Tests.Sandbox;

/// <summary>
/// The long-lived decoder processes: one process serves file after file; a crash or the memory limit ends only
/// that file (with its reason), and the next file gets a fresh process.
/// </summary>
public sealed class DecodeSandboxTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "docpipe-sandbox-test-" + Guid.NewGuid().ToString("N"));

    public DecodeSandboxTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task One_decoder_process_serves_file_after_file()
    {
        using var sandbox = new DecodeSandbox(new SandboxOptions { Workers = 1 }, NullLogger<DecodeSandbox>.Instance);
        var good = GoodDicom();

        await sandbox.DecodeDicomAsync(good, 64, DicomLimits.Default, Scratch(), Guid.Empty, CancellationToken.None);
        var first = Decoders();
        await sandbox.DecodeDicomAsync(good, 64, DicomLimits.Default, Scratch(), Guid.Empty, CancellationToken.None);

        Assert.Single(first);
        Assert.Equal(first, Decoders());
    }

    [Fact]
    public async Task A_decoder_crash_fails_that_file_and_the_next_file_decodes_in_a_new_process()
    {
        using var sandbox = new DecodeSandbox(new SandboxOptions { Workers = 1 }, NullLogger<DecodeSandbox>.Instance);
        var good = GoodDicom();
        await sandbox.DecodeDicomAsync(good, 64, DicomLimits.Default, Scratch(), Guid.Empty, CancellationToken.None);
        var before = Decoders();

        // pydicom's file with a Frame Increment Pointer but no Number of Frames: an assertion in GDCM aborts.
        var crash = await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            sandbox.DecodeDicomAsync(Corpus.File("dicom", "rtdose_1frame.dcm"), 64, DicomLimits.Default, Scratch(), Guid.Empty, CancellationToken.None));
        Assert.Equal(Reasons.DecoderCrashed, crash.Code);
        Assert.Contains("SIGABRT", crash.Message, StringComparison.Ordinal);

        var result = await sandbox.DecodeDicomAsync(good, 64, DicomLimits.Default, Scratch(), Guid.Empty, CancellationToken.None);
        Assert.Single(result.Frames);
        Assert.Single(Decoders());
        Assert.NotEqual(before, Decoders());
    }

    [Fact]
    public async Task A_file_that_needs_more_memory_than_the_decoders_limit_fails_with_the_memory_reason_and_the_next_file_decodes()
    {
        // 1.5 GiB of address space is the least the runtime starts with; it leaves about 512 MiB of heap.
        using var sandbox = new DecodeSandbox(new SandboxOptions { Workers = 1, MemoryLimitBytes = 1536L << 20 }, NullLogger<DecodeSandbox>.Instance);
        var bomb = Path.Combine(_dir, "bomb.png");
        WriteBlackPng(bomb, 16_000, 16_000); // 768 MB as RGB once decoded, about 1 MB as a file
        // Lift the pixel limit so that the decoder really tries: the memory limit is what must stop it.
        var noPixelLimit = new ImageLimits { MaxPixels = long.MaxValue };

        var oom = await Assert.ThrowsAsync<DocumentRejectedException>(() =>
            sandbox.PrepareImageAsync(bomb, 896, noPixelLimit, Scratch(), Guid.Empty, CancellationToken.None));
        Assert.Equal(Reasons.DecoderOutOfMemory, oom.Code);
        Assert.Contains("ran out of memory", oom.Message, StringComparison.Ordinal);

        var small = Path.Combine(_dir, "small.png");
        WriteBlackPng(small, 100, 50);
        var image = await sandbox.PrepareImageAsync(small, 896, noPixelLimit, Scratch(), Guid.Empty, CancellationToken.None);
        Assert.Equal((100, 50, true), (image.Width, image.Height, image.IsBlank));
    }

    private string Scratch() => Path.Combine(_dir, Guid.NewGuid().ToString("N"));

    private string GoodDicom()
    {
        var path = Path.Combine(_dir, "good.dcm");
        var pixels = MinimalDicomWriter.SyntheticRadiograph(80, 60, 12);
        MinimalDicomWriter.Write(path, new MinimalDicomWriter.Spec(80, 60, 16, 12, "MONOCHROME2"), MemoryMarshal.AsBytes(pixels.AsSpan()));
        return path;
    }

    // The serving decoders among this process's children (prlimit execs dotnet, so they are direct children).
    private static List<int> Decoders() =>
        Directory.GetDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && IsServingDecoderChild(pid))
            .Order()
            .ToList();

    private static bool IsServingDecoderChild(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var zombie = stat[stat.LastIndexOf(')') + 2] == 'Z';
            return ppid == Environment.ProcessId && !zombie
                && cmdline.Any(a => a.EndsWith("docpipe-decode.dll", StringComparison.Ordinal)) && cmdline.Contains(SandboxProtocol.Serve);
        }
        catch (IOException)
        {
            return false;
        }
    }

    // An all-black RGB PNG written row by row, so the test never holds the decoded size itself.
    private static void WriteBlackPng(string path, int width, int height)
    {
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[1 + (width * 3)];
            for (var y = 0; y < height; y++)
            {
                zlib.Write(row);
            }
        }

        using var png = File.Create(path);
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        Chunk(png, "IHDR"u8, ihdr);
        Chunk(png, "IDAT"u8, idat.ToArray());
        Chunk(png, "IEND"u8, []);
    }

    private static void Chunk(Stream png, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        var word = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        png.Write(type);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32([.. type, .. data]));
        png.Write(word);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }

        return crc ^ 0xFFFFFFFFu;
    }
}
