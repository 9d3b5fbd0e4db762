using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// Writes small, valid DICOM Part 10 files (explicit VR little endian) from raw pixels, so tests can
/// build inputs without going through the code under test. Also compiled into bench/dicom.
/// </summary>
internal static class MinimalDicomWriter
{
    public const string CrStorage = "1.2.840.10008.5.1.4.1.1.1";
    private const string ExplicitLittleEndian = "1.2.840.10008.1.2.1";

    /// <summary>Image description for <see cref="Write"/>.</summary>
    internal sealed record Spec(int Rows, int Columns, int BitsAllocated, int BitsStored, string Photometric)
    {
        public int SamplesPerPixel { get; init; } = 1;
        public int PixelRepresentation { get; init; }
        public string Modality { get; init; } = "CR";
        public string SopClassUid { get; init; } = CrStorage;
        public double? WindowCenter { get; init; }
        public double? WindowWidth { get; init; }

        /// <summary>An optional Modality LUT Sequence item: first mapped value, bits per entry, entries.</summary>
        public (int FirstMapped, int Bits, ushort[] Entries)? ModalityLut { get; init; }

        /// <summary>An optional VOI LUT Sequence item: first mapped value, bits per entry, entries.</summary>
        public (int FirstMapped, int Bits, ushort[] Entries)? VoiLut { get; init; }
    }

    public static void Write(string path, Spec spec, ReadOnlySpan<byte> pixelData)
    {
        var sopInstance = "2.25." + BigIntegerUid();
        var dataset = new MemoryStream();
        Element(dataset, 0x0008, 0x0016, "UI", Ui(spec.SopClassUid));
        Element(dataset, 0x0008, 0x0018, "UI", Ui(sopInstance));
        Element(dataset, 0x0008, 0x0060, "CS", Text(spec.Modality));
        // A patient name, so tests can check it never reaches a message.
        Element(dataset, 0x0010, 0x0010, "PN", Text("SECRET^PATIENT"));
        Element(dataset, 0x0018, 0x0015, "CS", Text("CHEST"));
        Element(dataset, 0x0018, 0x5101, "CS", Text("PA"));
        Element(dataset, 0x0020, 0x000D, "UI", Ui("2.25." + BigIntegerUid()));
        Element(dataset, 0x0020, 0x000E, "UI", Ui("2.25." + BigIntegerUid()));
        Element(dataset, 0x0028, 0x0002, "US", Us(spec.SamplesPerPixel));
        Element(dataset, 0x0028, 0x0004, "CS", Text(spec.Photometric));
        if (spec.SamplesPerPixel > 1)
        {
            Element(dataset, 0x0028, 0x0006, "US", Us(0));
        }

        Element(dataset, 0x0028, 0x0010, "US", Us(spec.Rows));
        Element(dataset, 0x0028, 0x0011, "US", Us(spec.Columns));
        Element(dataset, 0x0028, 0x0100, "US", Us(spec.BitsAllocated));
        Element(dataset, 0x0028, 0x0101, "US", Us(spec.BitsStored));
        Element(dataset, 0x0028, 0x0102, "US", Us(spec.BitsStored - 1));
        Element(dataset, 0x0028, 0x0103, "US", Us(spec.PixelRepresentation));
        if (spec.WindowCenter is { } c && spec.WindowWidth is { } w)
        {
            Element(dataset, 0x0028, 0x1050, "DS", Text(c.ToString(CultureInfo.InvariantCulture)));
            Element(dataset, 0x0028, 0x1051, "DS", Text(w.ToString(CultureInfo.InvariantCulture)));
        }

        if (spec.ModalityLut is { } modality)
        {
            Element(dataset, 0x0028, 0x3000, "SQ", LutSequence(modality.FirstMapped, modality.Bits, modality.Entries));
        }

        if (spec.VoiLut is { } voi)
        {
            Element(dataset, 0x0028, 0x3010, "SQ", LutSequence(voi.FirstMapped, voi.Bits, voi.Entries));
        }

        var pixels = pixelData.Length % 2 == 0 ? pixelData.ToArray() : [.. pixelData, 0];
        Element(dataset, 0x7FE0, 0x0010, spec.BitsAllocated > 8 ? "OW" : "OB", pixels);

        var meta = new MemoryStream();
        Element(meta, 0x0002, 0x0001, "OB", [0, 1]);
        Element(meta, 0x0002, 0x0002, "UI", Ui(spec.SopClassUid));
        Element(meta, 0x0002, 0x0003, "UI", Ui(sopInstance));
        Element(meta, 0x0002, 0x0010, "UI", Ui(ExplicitLittleEndian));
        Element(meta, 0x0002, 0x0012, "UI", Ui("2.25.1"));

        using var file = File.Create(path);
        file.Write(new byte[128]);
        file.Write("DICM"u8);
        var groupLength = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(groupLength, (uint)meta.Length);
        Element(file, 0x0002, 0x0000, "UL", groupLength);
        meta.WriteTo(file);
        dataset.WriteTo(file);
    }

    /// <summary>A defined-length sequence with one item holding LUT Descriptor (0028,3002) and LUT Data (0028,3006).</summary>
    private static byte[] LutSequence(int firstMapped, int bits, ushort[] entries)
    {
        var item = new MemoryStream();
        var descriptor = new byte[6];
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor, (ushort)(entries.Length == 65_536 ? 0 : entries.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(2), (ushort)firstMapped);
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(4), (ushort)bits);
        Element(item, 0x0028, 0x3002, "US", descriptor);
        var data = new byte[entries.Length * 2];
        for (var i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), entries[i]);
        }

        Element(item, 0x0028, 0x3006, "OW", data);
        var sequence = new MemoryStream();
        var itemHeader = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(itemHeader, 0xFFFE);
        BinaryPrimitives.WriteUInt16LittleEndian(itemHeader.AsSpan(2), 0xE000);
        BinaryPrimitives.WriteUInt32LittleEndian(itemHeader.AsSpan(4), (uint)item.Length);
        sequence.Write(itemHeader);
        item.WriteTo(sequence);
        return sequence.ToArray();
    }

    private static void Element(Stream stream, ushort group, ushort element, string vr, byte[] value)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(header, group);
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], element);
        header[4] = (byte)vr[0];
        header[5] = (byte)vr[1];
        if (vr is "OB" or "OW" or "SQ" or "UN" or "UT")
        {
            header[6] = 0;
            header[7] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)value.Length);
            stream.Write(header);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)value.Length);
            stream.Write(header[..8]);
        }

        stream.Write(value);
    }

    private static byte[] Ui(string uid) => Pad(Encoding.ASCII.GetBytes(uid), 0);

    private static byte[] Text(string text) => Pad(Encoding.ASCII.GetBytes(text), (byte)' ');

    private static byte[] Us(int value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
        return bytes;
    }

    private static byte[] Pad(byte[] bytes, byte pad) => bytes.Length % 2 == 0 ? bytes : [.. bytes, pad];

    private static string BigIntegerUid() => new System.Numerics.BigInteger([.. Guid.NewGuid().ToByteArray(), 0]).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A deterministic, chest-radiograph-like 16-bit image: smooth anatomy-scale structure plus
    /// pseudo-random noise, so lossless codecs have real work and a wrong pixel cannot hide.
    /// </summary>
    public static ushort[] SyntheticRadiograph(int rows, int columns, int bitsStored)
    {
        var max = (1 << bitsStored) - 1;
        var values = new ushort[rows * columns];
        var state = 0x2545F491u;
        for (var y = 0; y < rows; y++)
        {
            var fy = (double)y / rows;
            for (var x = 0; x < columns; x++)
            {
                var fx = (double)x / columns;
                var lungs = Math.Exp(-(Math.Pow((fx - 0.3) / 0.15, 2) + Math.Pow((fy - 0.45) / 0.3, 2)))
                    + Math.Exp(-(Math.Pow((fx - 0.7) / 0.15, 2) + Math.Pow((fy - 0.45) / 0.3, 2)));
                var ribs = 0.08 * Math.Sin(fy * 60 + Math.Sin(fx * 6));
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                var noise = ((state & 0xFFF) / 4096.0 - 0.5) * 0.04;
                var v = 0.15 + 0.55 * lungs + ribs + noise;
                values[(y * columns) + x] = (ushort)Math.Clamp((int)(v * max), 0, max);
            }
        }

        return values;
    }
}
