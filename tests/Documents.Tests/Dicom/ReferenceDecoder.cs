using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Documents.Tests.Dicom;

/// <summary>
/// Independent reference decodes made in the test run by dcmtk (dcmconv, dcmdjpeg, dcmdjpls, dcmdrle,
/// dcmdump +W) or, for JPEG 2000 which dcmtk 3.6.7 lacks, GDCM's own command line (gdcmconv --raw).
/// </summary>
internal static partial class ReferenceDecoder
{
    /// <summary>Decodes <paramref name="path"/> with the command-line tools and returns stored values, colour by pixel.</summary>
    public static int[] StoredValues(string path, DicomHeader header, out string tool)
    {
        using var temp = DicomTestEnvironment.CreateTempFolder();
        var native = temp.File("native.dcm");
        tool = header.TransferSyntaxUid switch
        {
            "1.2.840.10008.1.2.1" => "none",
            "1.2.840.10008.1.2" or "1.2.840.10008.1.2.2" or "1.2.840.10008.1.2.1.99" => "dcmconv",
            "1.2.840.10008.1.2.5" => "dcmdrle",
            "1.2.840.10008.1.2.4.50" or "1.2.840.10008.1.2.4.51" or "1.2.840.10008.1.2.4.57" or "1.2.840.10008.1.2.4.70" => "dcmdjpeg",
            "1.2.840.10008.1.2.4.80" or "1.2.840.10008.1.2.4.81" => "dcmdjpls",
            "1.2.840.10008.1.2.4.90" or "1.2.840.10008.1.2.4.91" => "gdcmconv",
            _ => throw new NotSupportedException("no reference tool for " + header.TransferSyntaxUid),
        };
        switch (tool)
        {
            case "none":
                File.Copy(path, native);
                break;
            case "dcmconv":
                DicomTestEnvironment.Run("dcmconv", "+te", path, native);
                break;
            case "dcmdjpeg":
                // Keep YCbCr as coded: we compare samples, not the colour conversion.
                DicomTestEnvironment.Run("dcmdjpeg", "+cn", path, native);
                break;
            case "gdcmconv":
                DicomTestEnvironment.Run("gdcmconv", "--raw", path, native);
                break;
            default:
                DicomTestEnvironment.Run(tool, path, native);
                break;
        }

        var dump = DicomTestEnvironment.Run("dcmdump", "-q", "+P", "0028,0006", native);
        var planarMatch = PlanarPattern().Match(dump);
        var planar = planarMatch.Success && planarMatch.Groups[1].Value == "1";

        var rawDir = temp.File("raw");
        Directory.CreateDirectory(rawDir);
        DicomTestEnvironment.Run("dcmdump", "-q", "+W", rawDir, native);

        // dcmdump numbers every OB/OW value it writes; the top-level Pixel Data is the last one.
        var rawFile = Directory.GetFiles(rawDir, "*.raw")
            .OrderBy(f => int.Parse(f.Split('.')[^2], CultureInfo.InvariantCulture))
            .Last();
        return ToStored(File.ReadAllBytes(rawFile), header, planar);
    }

    /// <summary>Interprets raw little-endian pixel bytes the way PS3.5 defines stored values.</summary>
    public static int[] ToStored(byte[] raw, DicomHeader header, bool planar)
    {
        var pixels = header.Rows * header.Columns;
        var spp = header.SamplesPerPixel;
        var samples = pixels * spp;
        var frames = header.NumberOfFrames;
        if (header.PhotometricInterpretation == "YBR_FULL_422" && raw.Length < samples * frames)
        {
            raw = Expand422(raw, header.Columns, header.Rows * frames);
        }

        var result = new int[samples * frames];
        var shift = header.HighBit + 1 - header.BitsStored;
        var mask = header.BitsStored >= 32 ? uint.MaxValue : (1u << header.BitsStored) - 1;
        for (var i = 0; i < result.Length; i++)
        {
            uint word = header.BitsAllocated switch
            {
                1 => (uint)(raw[i >> 3] >> (i & 7)) & 1,
                8 => raw[i],
                16 => BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(i * 2)),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4)),
            };
            var value = (word >> shift) & mask;
            var stored = header.PixelRepresentation == 1 && header.BitsStored < 32 && (value & (1u << (header.BitsStored - 1))) != 0
                ? (int)value - (1 << header.BitsStored)
                : (int)value;
            var frame = i / samples;
            var within = i % samples;
            var target = planar && spp > 1 ? (frame * samples) + (within % pixels * spp) + (within / pixels) : i;
            result[target] = stored;
        }

        return result;
    }

    private static byte[] Expand422(byte[] raw, int columns, int rows)
    {
        var result = new byte[columns * rows * 3];
        for (var pair = 0; pair < columns * rows / 2; pair++)
        {
            var s = pair * 4;
            var d = pair * 6;
            result[d] = raw[s];
            result[d + 1] = raw[s + 2];
            result[d + 2] = raw[s + 3];
            result[d + 3] = raw[s + 1];
            result[d + 4] = raw[s + 2];
            result[d + 5] = raw[s + 3];
        }

        return result;
    }

    /// <summary>Reads a binary PGM (P5) or PPM (P6) as written by dcmj2pnm: width, height, channels, samples.</summary>
    public static (int Width, int Height, int Channels, byte[] Data) ReadPnm(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var position = 0;
        var fields = new List<string>();
        while (fields.Count < 4)
        {
            while (char.IsWhiteSpace((char)bytes[position]))
            {
                position++;
            }

            if (bytes[position] == '#')
            {
                while (bytes[position] != '\n')
                {
                    position++;
                }

                continue;
            }

            var start = position;
            while (!char.IsWhiteSpace((char)bytes[position]))
            {
                position++;
            }

            fields.Add(System.Text.Encoding.ASCII.GetString(bytes, start, position - start));
        }

        position++;
        var channels = fields[0] switch
        {
            "P5" => 1,
            "P6" => 3,
            _ => throw new InvalidDataException("not a binary PGM/PPM: " + fields[0]),
        };
        var width = int.Parse(fields[1], CultureInfo.InvariantCulture);
        var height = int.Parse(fields[2], CultureInfo.InvariantCulture);
        Assert.Equal("255", fields[3]);
        return (width, height, channels, bytes[position..(position + width * height * channels)]);
    }

    [GeneratedRegex(@"\(0028,0006\)\s+US\s+(\d+)")]
    private static partial Regex PlanarPattern();
}
