using System.Buffers.Binary;
using System.Globalization;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>Reads attribute values out of GDCM data sets; keeps the SWIG details in one place.</summary>
internal static class GdcmDataSet
{
    /// <summary>The attribute's value as text (multi-valued: backslash-separated), trimmed; "" when absent.</summary>
    public static string GetString(gdcm.StringFilter filter, gdcm.DataSet dataSet, ushort group, ushort element)
    {
        using var tag = new gdcm.Tag(group, element);
        if (!dataSet.FindDataElement(tag))
        {
            return "";
        }

        var text = filter.ToString(tag) ?? "";
        return text.Trim().TrimEnd('\0').Trim();
    }

    /// <summary>An integer attribute, or <paramref name="fallback"/> when absent or unparsable.</summary>
    public static int GetInt(gdcm.StringFilter filter, gdcm.DataSet dataSet, ushort group, ushort element, int fallback)
    {
        var text = GetString(filter, dataSet, group, element);
        var first = text.Split('\\')[0].Trim();
        return int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;
    }

    /// <summary>All values of a DS/IS attribute; values that do not parse are dropped.</summary>
    public static double[] GetDoubles(gdcm.StringFilter filter, gdcm.DataSet dataSet, ushort group, ushort element)
    {
        var text = GetString(filter, dataSet, group, element);
        if (text.Length == 0)
        {
            return [];
        }

        var values = new List<double>();
        foreach (var part in text.Split('\\'))
        {
            if (double.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            {
                values.Add(value);
            }
        }

        return [.. values];
    }

    /// <summary>Whether the data set holds the attribute.</summary>
    public static bool Has(gdcm.DataSet dataSet, ushort group, ushort element)
    {
        using var tag = new gdcm.Tag(group, element);
        return dataSet.FindDataElement(tag);
    }

    /// <summary>
    /// The raw value bytes (GDCM has already swapped big-endian binary values to little endian),
    /// or null when the attribute is absent or is a sequence.
    /// </summary>
    public static byte[]? GetBytes(gdcm.DataSet dataSet, ushort group, ushort element)
    {
        using var tag = new gdcm.Tag(group, element);
        if (!dataSet.FindDataElement(tag))
        {
            return null;
        }

        using var dataElement = dataSet.GetDataElement(tag);
        using var byteValue = dataElement.GetByteValue();
        if (byteValue is null)
        {
            return null;
        }

        uint length = byteValue.GetLength();
        var buffer = new byte[length];
        return length == 0 || byteValue.GetBuffer(buffer, length) ? buffer : null;
    }

    /// <summary>The declared value length of an attribute (undefined length: null).</summary>
    public static uint? GetValueLength(gdcm.DataSet dataSet, ushort group, ushort element)
    {
        using var tag = new gdcm.Tag(group, element);
        if (!dataSet.FindDataElement(tag))
        {
            return null;
        }

        using var dataElement = dataSet.GetDataElement(tag);
        using var vl = dataElement.GetVL();
        return vl.IsUndefined() ? null : vl;
    }

    /// <summary>The first item's data set of a sequence, or null.</summary>
    public static gdcm.DataSet? GetFirstItem(gdcm.DataSet dataSet, ushort group, ushort element)
    {
        using var tag = new gdcm.Tag(group, element);
        if (!dataSet.FindDataElement(tag))
        {
            return null;
        }

        using var dataElement = dataSet.GetDataElement(tag);
        var sequence = dataElement.GetValueAsSQ();
        if (sequence is null || sequence.GetNumberOfItems() == 0)
        {
            return null;
        }

        // SWIG items are 1-based, like GDCM's C++ API.
        return sequence.GetItem(1).GetNestedDataSet();
    }

    /// <summary>
    /// A lookup table from its descriptor (entries, first mapped value, bits) and data attributes.
    /// Returns null when either attribute is missing.
    /// </summary>
    public static DicomLookupTable? GetLookupTable(gdcm.DataSet dataSet, ushort descriptorGroup, ushort descriptorElement, ushort dataElement, bool signedFirstMapped)
    {
        var descriptor = GetBytes(dataSet, descriptorGroup, descriptorElement);
        var data = GetBytes(dataSet, descriptorGroup, dataElement);
        if (descriptor is null || data is null || descriptor.Length < 6)
        {
            return null;
        }

        return DicomLookupTable.Parse(descriptor, data, signedFirstMapped);
    }

    /// <summary>Reads a little-endian 16-bit word from raw value bytes.</summary>
    public static ushort Word(ReadOnlySpan<byte> bytes, int index) => BinaryPrimitives.ReadUInt16LittleEndian(bytes[(index * 2)..]);
}
