using System.Globalization;
using System.Text;
using PaliGemma2.DocPipeline.Documents.Dicom;

namespace PaliGemma2.DocPipeline.Pacs.Sr;

/// <summary>What goes into a draft report SR besides the source image.</summary>
public sealed record ReportSrRequest
{
    /// <summary>The source DICOM file (its study, patient and image identity are copied/referenced).</summary>
    public required string SourcePath { get; init; }

    /// <summary>Series Instance UID of the new SR series.</summary>
    public required string SeriesInstanceUid { get; init; }

    /// <summary>SOP Instance UID of the SR.</summary>
    public required string SopInstanceUid { get; init; }

    /// <summary>Findings text.</summary>
    public required string Findings { get; init; }

    /// <summary>Impression text.</summary>
    public required string Impression { get; init; }

    /// <summary>Manufacturer named in the Contributing Equipment Sequence.</summary>
    public required string Manufacturer { get; init; }

    /// <summary>Model name (the checkpoint name).</summary>
    public required string ModelName { get; init; }

    /// <summary>Software version (the checkpoint version).</summary>
    public required string SoftwareVersion { get; init; }

    /// <summary>Content date and time.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// Builds a Basic Text SR draft report in the source image's study: patient and study modules copied
/// from the source, new series and instance, PARTIAL / UNVERIFIED, the model as contributing equipment,
/// FINDINGS and IMPRESSION as TEXT items under a report CONTAINER, and a reference to the source image.
/// </summary>
public static class ReportSrWriter
{
    /// <summary>Basic Text SR Storage.</summary>
    public const string BasicTextSrSopClass = "1.2.840.10008.5.1.4.1.1.88.11";

    /// <summary>Root of the UIDs generated here (GDCM's, with a UUID-derived suffix).</summary>
    public static string NewUid() => "2.25." + new System.Numerics.BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true).ToString(CultureInfo.InvariantCulture);

    // Patient and General Study module attributes copied byte for byte, with their VRs.
    private static readonly (uint Tag, string Vr)[] Copied =
    [
        (0x00100010, "PN"), (0x00100020, "LO"), (0x00100021, "LO"), (0x00100030, "DA"), (0x00100040, "CS"),
        (0x00080020, "DA"), (0x00080030, "TM"), (0x00080090, "PN"), (0x00200010, "SH"), (0x00080050, "SH"), (0x00081030, "LO"),
    ];

    /// <summary>The SR as a Part 10 file.</summary>
    public static byte[] Write(ReportSrRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        GdcmRuntime.EnsureInitialized();

        using var reader = new gdcm.Reader();
        reader.SetFileName(request.SourcePath);
        if (!reader.Read())
        {
            throw new InvalidOperationException("The source DICOM file could not be read for the SR.");
        }

        var source = reader.GetFile().GetDataSet();
        using var filter = new gdcm.StringFilter();
        filter.SetFile(reader.GetFile());
        string Get(ushort g, ushort e) => GdcmDataSet.GetString(filter, source, g, e);

        var studyUid = Get(0x0020, 0x000D);
        var seriesUid = Get(0x0020, 0x000E);
        var sopClass = Get(0x0008, 0x0016);
        var sopInstance = Get(0x0008, 0x0018);
        if (studyUid.Length == 0 || sopInstance.Length == 0)
        {
            throw new InvalidOperationException("The source DICOM file has no Study or SOP Instance UID.");
        }

        var copied = Copied.Select(c => (c.Tag, c.Vr, Bytes: GdcmDataSet.GetBytes(source, (ushort)(c.Tag >> 16), (ushort)(c.Tag & 0xFFFF)))).ToList();
        var charsetBytes = GdcmDataSet.GetBytes(source, 0x0008, 0x0005);
        var charset = charsetBytes is null ? "" : Encoding.ASCII.GetString(charsetBytes).Trim('\0', ' ');
        var allAscii = copied.All(c => c.Bytes is null || c.Bytes.All(b => b < 0x80));
        var utf8 = charset == "ISO_IR 192" || (charset.Length == 0 && allAscii);
        var text = utf8 ? (Encoding)new UTF8Encoding(false) : new AsciiReplacing();

        using var ds = new DicomDataSetBuilder(text);
        ds.Text(0x00080005, "CS", utf8 ? "ISO_IR 192" : charset);
        foreach (var (tag, vr, bytes) in copied)
        {
            ds.Raw(tag, vr, bytes ?? []);
        }

        var date = request.CreatedAt.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var timeOfDay = request.CreatedAt.UtcDateTime.ToString("HHmmss", CultureInfo.InvariantCulture);
        var dateTime = request.CreatedAt.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

        ds.Uid(0x00080016, BasicTextSrSopClass)
            .Uid(0x00080018, request.SopInstanceUid)
            .Text(0x00080012, "DA", date).Text(0x00080013, "TM", timeOfDay)
            .Uid(0x0020000D, studyUid)
            // SR Document Series
            .Text(0x00080060, "CS", "SR")
            .Uid(0x0020000E, request.SeriesInstanceUid)
            .Text(0x00200011, "IS", "9901")
            .Text(0x0008103E, "LO", "Draft report (machine generated)")
            .Sequence(0x00081111)
            // General Equipment
            .Text(0x00080070, "LO", request.Manufacturer)
            .Text(0x00081090, "LO", request.ModelName)
            .Text(0x00181020, "LO", request.SoftwareVersion)
            // SR Document General
            .Text(0x00200013, "IS", "1")
            .Text(0x00080023, "DA", date).Text(0x00080033, "TM", timeOfDay)
            .Text(0x0040A491, "CS", "PARTIAL")
            .Text(0x0040A493, "CS", "UNVERIFIED")
            .Sequence(0x0040A372)
            .Sequence(0x0040A375, study => study
                .Uid(0x0020000D, studyUid)
                .Sequence(0x00081115, series => series
                    .Uid(0x0020000E, seriesUid)
                    .Sequence(0x00081199, sop => sop.Uid(0x00081150, sopClass).Uid(0x00081155, sopInstance))))
            .Sequence(0x0018A001, equipment => equipment
                .Text(0x00080070, "LO", request.Manufacturer)
                .Text(0x00081090, "LO", request.ModelName)
                .Text(0x00181020, "LO", request.SoftwareVersion)
                .Sequence(0x0040A170, purpose => purpose.Code("109102", "DCM", "Processing Equipment"))
                .Text(0x0018A002, "DT", dateTime))
            // SR Document Content: the root CONTAINER
            .Text(0x0040A040, "CS", "CONTAINER")
            .Sequence(0x0040A043, name => name.Code("18748-4", "LN", "Diagnostic imaging report"))
            .Text(0x0040A050, "CS", "SEPARATE")
            .Sequence(0x0040A730,
                item => TextItem(item, "121071", "Finding", request.Findings),
                item => TextItem(item, "121073", "Impression", request.Impression),
                item => item
                    .Text(0x0040A010, "CS", "CONTAINS")
                    .Text(0x0040A040, "CS", "IMAGE")
                    .Sequence(0x0040A043, name => name.Code("121112", "DCM", "Source of Measurement"))
                    .Sequence(0x00081199, sop => sop.Uid(0x00081150, sopClass).Uid(0x00081155, sopInstance)));

        return ds.ToPart10();
    }

    private static void TextItem(DicomDataSetBuilder item, string code, string meaning, string value) => item
        .Text(0x0040A010, "CS", "CONTAINS")
        .Text(0x0040A040, "CS", "TEXT")
        .Sequence(0x0040A043, name => name.Code(code, "DCM", meaning))
        .Text(0x0040A160, "UT", value.Length == 0 ? "(none)" : value);

    /// <summary>ASCII that writes '?' for anything else (the source's character set is kept for its own values).</summary>
    private sealed class AsciiReplacing : ASCIIEncoding
    {
        public override byte[] GetBytes(string s) =>
            base.GetBytes(new string((s ?? "").Select(c => c < 0x80 ? c : '?').ToArray()));
    }
}
