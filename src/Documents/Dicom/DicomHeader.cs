using System.Globalization;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// The typed header of a DICOM image: identification, routing attributes and the pixel layout.
/// It deliberately carries no patient attributes, so it can be logged and stored as metadata.
/// </summary>
public sealed record DicomHeader
{
    /// <summary>Study Instance UID (0020,000D).</summary>
    public string StudyInstanceUid { get; init; } = "";

    /// <summary>Series Instance UID (0020,000E).</summary>
    public string SeriesInstanceUid { get; init; } = "";

    /// <summary>SOP Instance UID (0008,0018).</summary>
    public string SopInstanceUid { get; init; } = "";

    /// <summary>SOP Class UID (0008,0016).</summary>
    public string SopClassUid { get; init; } = "";

    /// <summary>Modality (0008,0060), e.g. CR, DX, CT.</summary>
    public string Modality { get; init; } = "";

    /// <summary>Body Part Examined (0018,0015), e.g. CHEST.</summary>
    public string BodyPartExamined { get; init; } = "";

    /// <summary>View Position (0018,5101), e.g. PA, AP, LL.</summary>
    public string ViewPosition { get; init; } = "";

    /// <summary>Presentation Intent Type (0008,0068) of DX/MG/IO: FOR PRESENTATION or FOR PROCESSING.</summary>
    public string PresentationIntentType { get; init; } = "";

    /// <summary>Rows (0028,0010).</summary>
    public int Rows { get; init; }

    /// <summary>Columns (0028,0011).</summary>
    public int Columns { get; init; }

    /// <summary>Number of Frames (0028,0008); 1 when absent.</summary>
    public int NumberOfFrames { get; init; } = 1;

    /// <summary>Bits Allocated (0028,0100).</summary>
    public int BitsAllocated { get; init; }

    /// <summary>Bits Stored (0028,0101).</summary>
    public int BitsStored { get; init; }

    /// <summary>High Bit (0028,0102).</summary>
    public int HighBit { get; init; }

    /// <summary>Pixel Representation (0028,0103): 0 unsigned, 1 two's complement.</summary>
    public int PixelRepresentation { get; init; }

    /// <summary>Photometric Interpretation (0028,0004) as written in the file.</summary>
    public string PhotometricInterpretation { get; init; } = "";

    /// <summary>Transfer Syntax UID (0002,0010).</summary>
    public string TransferSyntaxUid { get; init; } = "";

    /// <summary>Samples per Pixel (0028,0002).</summary>
    public int SamplesPerPixel { get; init; } = 1;

    /// <summary>Planar Configuration (0028,0006): 0 colour-by-pixel, 1 colour-by-plane.</summary>
    public int PlanarConfiguration { get; init; }

    /// <summary>Rescale Slope (0028,1053); 1 when absent.</summary>
    public double RescaleSlope { get; init; } = 1;

    /// <summary>Rescale Intercept (0028,1052); 0 when absent.</summary>
    public double RescaleIntercept { get; init; }

    /// <summary>Window Center values (0028,1050), in file order; empty when absent.</summary>
    public IReadOnlyList<double> WindowCenters { get; init; } = [];

    /// <summary>Window Width values (0028,1051), in file order; empty when absent.</summary>
    public IReadOnlyList<double> WindowWidths { get; init; } = [];

    /// <summary>VOI LUT Function (0028,1056): LINEAR (default), LINEAR_EXACT or SIGMOID.</summary>
    public string VoiLutFunction { get; init; } = "";

    /// <summary>Whether the file has a VOI LUT Sequence (0028,3010) that takes precedence over windows.</summary>
    public bool HasVoiLut { get; init; }

    /// <summary>Whether the file has a Modality LUT Sequence (0028,3000) that replaces the rescale.</summary>
    public bool HasModalityLut { get; init; }

    /// <summary>Whether the object carries image pixel data (7FE0,0010).</summary>
    public bool HasPixelData { get; init; }

    /// <summary>The first window centre, or null when the file has none.</summary>
    public double? WindowCenter => WindowCenters.Count > 0 ? WindowCenters[0] : null;

    /// <summary>The first window width, or null when the file has none.</summary>
    public double? WindowWidth => WindowWidths.Count > 0 ? WindowWidths[0] : null;

    /// <summary>
    /// The attributes that go into <c>documents.metadata</c> (camelCase keys, JSON-friendly values).
    /// Patient identifiers are never part of it.
    /// </summary>
    public IReadOnlyDictionary<string, object?> ToMetadata() => new Dictionary<string, object?>(StringComparer.Ordinal)
    {
        ["studyInstanceUid"] = StudyInstanceUid,
        ["seriesInstanceUid"] = SeriesInstanceUid,
        ["sopInstanceUid"] = SopInstanceUid,
        ["sopClassUid"] = SopClassUid,
        ["modality"] = Modality,
        ["bodyPartExamined"] = BodyPartExamined,
        ["viewPosition"] = ViewPosition,
        ["rows"] = Rows,
        ["columns"] = Columns,
        ["numberOfFrames"] = NumberOfFrames,
        ["photometricInterpretation"] = PhotometricInterpretation,
        ["transferSyntaxUid"] = TransferSyntaxUid,
    };

    /// <summary>A one-line description without identifiers, for logs.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Modality} {Columns}x{Rows}x{NumberOfFrames} {PhotometricInterpretation} {BitsStored}/{BitsAllocated} bit ts={TransferSyntaxUid}");
}
