using System.Text;

namespace PaliGemma2.DocPipeline.Pacs.Sr;

/// <summary>
/// A small builder over GDCM's SWIG data set: typed text, UID and sequence attributes with correct
/// padding, so the SR writer never touches <c>gdcm.*</c> types directly.
/// </summary>
internal sealed class DicomDataSetBuilder : IDisposable
{
    private readonly Encoding _text;

    public DicomDataSetBuilder(Encoding text)
    {
        _text = text;
        DataSet = new gdcm.DataSet();
    }

    internal gdcm.DataSet DataSet { get; }

    /// <summary>A text attribute, sanitised for its VR (<see cref="DicomText"/>) and padded with a space to even length; null writes an empty (type 2) attribute.</summary>
    public DicomDataSetBuilder Text(uint tag, string vr, string? value)
    {
        var bytes = value is null ? [] : _text.GetBytes(DicomText.Sanitize(value, vr));
        return Raw(tag, vr, bytes);
    }

    /// <summary>A UID attribute (padded with NUL).</summary>
    public DicomDataSetBuilder Uid(uint tag, string uid) => Raw(tag, "UI", Encoding.ASCII.GetBytes(uid));

    /// <summary>An attribute from raw value bytes (already in the data set's character set).</summary>
    public DicomDataSetBuilder Raw(uint tag, string vr, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = value;
        if (bytes.Length % 2 == 1)
        {
            bytes = [.. bytes, vr == "UI" ? (byte)0 : (byte)' '];
        }

        using var t = new gdcm.Tag((ushort)(tag >> 16), (ushort)(tag & 0xFFFF));
        using var element = new gdcm.DataElement(t);
        using var r = new gdcm.VR(gdcm.VR.GetVRType(vr));
        element.SetVR(r);
        using var vl = new gdcm.VL((uint)bytes.Length);
        element.SetByteValue(bytes, vl);
        DataSet.Replace(element);
        return this;
    }

    /// <summary>A sequence whose items are built by <paramref name="items"/> (none: an empty type 2 sequence).</summary>
    public DicomDataSetBuilder Sequence(uint tag, params Action<DicomDataSetBuilder>[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var sq = gdcm.SequenceOfItems.New();
        sq.SetLengthToUndefined();
        foreach (var build in items)
        {
            using var nested = new DicomDataSetBuilder(_text);
            build(nested);
            using var item = new gdcm.Item();
            item.SetVLToUndefined();
            item.SetNestedDataSet(nested.DataSet);
            sq.AddItem(item);
        }

        using var t = new gdcm.Tag((ushort)(tag >> 16), (ushort)(tag & 0xFFFF));
        using var element = new gdcm.DataElement(t);
        using var r = new gdcm.VR(gdcm.VR.VRType.SQ);
        element.SetVR(r);
        element.SetVLToUndefined();
        element.SetValue(sq.__ref__());
        DataSet.Replace(element);
        return this;
    }

    /// <summary>A code sequence item body: value, scheme, meaning.</summary>
    public DicomDataSetBuilder Code(string value, string scheme, string meaning) =>
        Text(0x00080100, "SH", value).Text(0x00080102, "SH", scheme).Text(0x00080104, "LO", meaning);

    /// <summary>Writes the data set as a Part 10 file (Explicit VR Little Endian) and returns its bytes.</summary>
    public byte[] ToPart10()
    {
        var path = Path.Combine(Path.GetTempPath(), $"docpipe-sr-{Guid.NewGuid():N}.dcm");
        try
        {
            using var writer = new gdcm.Writer();
            var file = writer.GetFile();
            file.SetDataSet(DataSet);
            using var ts = new gdcm.TransferSyntax(gdcm.TransferSyntax.TSType.ExplicitVRLittleEndian);
            file.GetHeader().SetDataSetTransferSyntax(ts);
            writer.SetFileName(path);
            if (!writer.Write())
            {
                throw new InvalidOperationException("GDCM could not write the SR document.");
            }

            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public void Dispose() => DataSet.Dispose();
}
