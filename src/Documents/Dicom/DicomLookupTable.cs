using System.Buffers.Binary;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>A DICOM lookup table (palette channel or VOI LUT): entries indexed from a first mapped value.</summary>
internal sealed class DicomLookupTable
{
    private DicomLookupTable(int firstMapped, int bits, int[] entries)
    {
        FirstMapped = firstMapped;
        Bits = bits;
        Entries = entries;
    }

    /// <summary>The input value mapped to the first entry.</summary>
    public int FirstMapped { get; }

    /// <summary>Bits per entry as declared by the descriptor (8 or 16 typically).</summary>
    public int Bits { get; }

    /// <summary>The table entries.</summary>
    public int[] Entries { get; }

    /// <summary>The largest value an entry can take (from the declared bits, widened to the data if needed).</summary>
    public int MaxValue { get; private init; }

    /// <summary>Looks up a value, clamping inputs outside the table to its first or last entry (PS3.3 C.11.2.1.1).</summary>
    public int Lookup(int input)
    {
        var index = input - FirstMapped;
        if (index <= 0)
        {
            return Entries[0];
        }

        return index >= Entries.Length ? Entries[^1] : Entries[index];
    }

    /// <summary>Parses a descriptor (3 × 16-bit little endian) and its data.</summary>
    public static DicomLookupTable? Parse(ReadOnlySpan<byte> descriptor, ReadOnlySpan<byte> data, bool signedFirstMapped)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(descriptor);
        if (count == 0)
        {
            // PS3.3: a first value of 0 means 2^16 entries.
            count = 65_536;
        }

        int firstMapped = signedFirstMapped
            ? BinaryPrimitives.ReadInt16LittleEndian(descriptor[2..])
            : BinaryPrimitives.ReadUInt16LittleEndian(descriptor[2..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(descriptor[4..]);
        if (bits is < 1 or > 16)
        {
            return null;
        }

        var entries = new int[count];
        if (data.Length >= count * 2)
        {
            for (var i = 0; i < count; i++)
            {
                entries[i] = BinaryPrimitives.ReadUInt16LittleEndian(data[(i * 2)..]);
            }
        }
        else if (bits <= 8 && data.Length >= count)
        {
            // Some writers pack 8-bit entries one per byte instead of one per 16-bit word.
            for (var i = 0; i < count; i++)
            {
                entries[i] = data[i];
            }
        }
        else
        {
            return null;
        }

        var declaredMax = (1 << bits) - 1;
        var dataMax = 0;
        foreach (var entry in entries)
        {
            dataMax = Math.Max(dataMax, entry);
        }

        // Writers that declare 8 bits but store 16-bit values exist; trust the data then.
        var max = dataMax > declaredMax ? 65_535 : declaredMax;
        return new DicomLookupTable(firstMapped, bits, entries) { MaxValue = max };
    }
}
