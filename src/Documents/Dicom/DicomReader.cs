using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// Reads DICOM Part 10 files with GDCM (every common transfer syntax: native little/big endian,
/// deflated, RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000) into our own types.
/// Every refusal is a <see cref="DicomRejectedException"/>; nothing of GDCM leaks out.
/// </summary>
public static class DicomReader
{
    private const string ExplicitBigEndian = "1.2.840.10008.1.2.2";
    private const string ImplicitLittleEndian = "1.2.840.10008.1.2";
    private const string ExplicitLittleEndian = "1.2.840.10008.1.2.1";

    private static readonly HashSet<string> SupportedPhotometrics = new(StringComparer.Ordinal)
    {
        "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
    };

    /// <summary>Reads the header only: validates it (pixel data present, limits, supported layout) without decoding pixels.</summary>
    /// <exception cref="DicomRejectedException">The file cannot become pages; <see cref="DicomRejectedException.Reason"/> says why.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (an infrastructure fault, not a bad document).</exception>
    public static DicomHeader ReadHeader(string path, DicomLimits limits) => ReadCore(path, limits, decode: false).Header;

    /// <summary>Reads the header only, with <see cref="DicomLimits.Default"/>.</summary>
    /// <exception cref="DicomRejectedException">The file cannot become pages.</exception>
    public static DicomHeader ReadHeader(string path) => ReadHeader(path, DicomLimits.Default);

    /// <summary>Reads and decodes a DICOM file: header plus all frames' stored values.</summary>
    /// <exception cref="DicomRejectedException">The file cannot become pages; <see cref="DicomRejectedException.Reason"/> says why.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (an infrastructure fault, not a bad document).</exception>
    public static DicomFile Read(string path, DicomLimits limits) => ReadCore(path, limits, decode: true);

    /// <summary>Reads and decodes a DICOM file with <see cref="DicomLimits.Default"/>.</summary>
    /// <exception cref="DicomRejectedException">The file cannot become pages.</exception>
    public static DicomFile Read(string path) => Read(path, DicomLimits.Default);

    private static DicomFile ReadCore(string path, DicomLimits limits, bool decode)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        GdcmRuntime.EnsureInitialized();

        var fileLength = CheckPart10(path, limits);

        using var reader = new gdcm.ImageReader();
        reader.SetFileName(path);
        bool imageRead;
        try
        {
            imageRead = reader.Read();
        }
        catch (Exception e) when (e is not (DicomRejectedException or OutOfMemoryException))
        {
            throw new DicomRejectedException(DicomRejection.Corrupt, "DICOM file could not be parsed (truncated or corrupt)", e);
        }

        if (!imageRead)
        {
            throw Diagnose(path);
        }

        var file = reader.GetFile();
        var dataSet = file.GetDataSet();
        using var filter = new gdcm.StringFilter();
        filter.SetFile(file);
        var image = reader.GetImage();
        var header = BuildHeader(file, dataSet, filter, image);
        Validate(header, limits);

        var modalityLut = ReadModalityLut(dataSet, header);
        var voiLut = ReadVoiLut(dataSet, header, modalityLut);
        var palette = header.PhotometricInterpretation == "PALETTE COLOR" ? ReadPalette(dataSet, header) : null;
        // Cheap (a scan for the Pixel Data header), so the header-only path refuses truncated files too.
        CheckNativeLength(path, fileLength, dataSet, header);
        if (!decode)
        {
            return new DicomFile(header, [], header.PhotometricInterpretation, header.PlanarConfiguration, modalityLut, voiLut, palette);
        }

        long bufferLength = image.GetBufferLength();
        if (bufferLength <= 0 || bufferLength > limits.MaxDecodedBytes || bufferLength > Array.MaxLength)
        {
            throw new DicomRejectedException(
                DicomRejection.TooLarge,
                string.Create(CultureInfo.InvariantCulture, $"decoded pixel data would be {bufferLength} bytes (limit {limits.MaxDecodedBytes})"));
        }

        if (DicomRle.Applies(header))
        {
            var rle = DicomRle.Decode(dataSet, header);
            var photometric = header.PhotometricInterpretation;
            return new DicomFile(header, NormalizeLayout(rle, header, ref photometric), photometric, 0, modalityLut, voiLut, palette);
        }

        var buffer = GC.AllocateUninitializedArray<byte>((int)bufferLength);
        bool decoded;
        try
        {
            decoded = image.GetBuffer(buffer);
        }
        catch (Exception e) when (e is not (DicomRejectedException or OutOfMemoryException))
        {
            throw new DicomRejectedException(DicomRejection.Corrupt, $"pixel data could not be decoded (transfer syntax {header.TransferSyntaxUid})", e);
        }

        if (!decoded)
        {
            throw new DicomRejectedException(
                DicomRejection.Corrupt,
                $"pixel data could not be decoded (transfer syntax {header.TransferSyntaxUid}): truncated or corrupt");
        }

        // The codec may have changed the colour space (JPEG 2000 undoes ICT/RCT; GDCM expands raw 4:2:2).
        using var decodedPhotometric = image.GetPhotometricInterpretation();
        var effectivePhotometric = decodedPhotometric.GetString()?.Trim() ?? header.PhotometricInterpretation;
        if (effectivePhotometric.Length == 0)
        {
            effectivePhotometric = header.PhotometricInterpretation;
        }

        var planar = (int)image.GetPlanarConfiguration();
        buffer = NormalizeLayout(buffer, header, ref effectivePhotometric);
        return new DicomFile(header, buffer, effectivePhotometric, planar, modalityLut, voiLut, palette);
    }

    /// <summary>Refuses what is not a Part 10 file before GDCM sees it (GDCM would guess at raw data sets).</summary>
    private static long CheckPart10(string path, DicomLimits limits)
    {
        // A missing or unreadable blob is an infrastructure fault (retry), not a bad document: let it propagate.
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException("DICOM file not found", path);
        }

        if (info.Length > limits.MaxFileBytes)
        {
            throw new DicomRejectedException(
                DicomRejection.TooLarge,
                string.Create(CultureInfo.InvariantCulture, $"file is {info.Length} bytes (limit {limits.MaxFileBytes})"));
        }

        Span<byte> preamble = stackalloc byte[132];
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            if (stream.ReadAtLeast(preamble, preamble.Length, throwOnEndOfStream: false) < preamble.Length
                || !preamble[128..].SequenceEqual("DICM"u8))
            {
                throw new DicomRejectedException(
                    DicomRejection.NotDicom,
                    "not a DICOM Part 10 file: no 128-byte preamble followed by 'DICM' (raw data sets without file meta information are not accepted)");
            }
        }

        return info.Length;
    }

    /// <summary>Works out why GDCM's image reader refused a file: no pixel data, or not readable at all.</summary>
    private static DicomRejectedException Diagnose(string path)
    {
        using var reader = new gdcm.Reader();
        reader.SetFileName(path);
        bool read;
        try
        {
            read = reader.Read();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new DicomRejectedException(DicomRejection.Corrupt, "DICOM file could not be parsed (truncated or corrupt)", e);
        }

        if (!read)
        {
            return new DicomRejectedException(DicomRejection.Corrupt, "DICOM file could not be parsed (truncated or corrupt)");
        }

        var file = reader.GetFile();
        var dataSet = file.GetDataSet();
        using var filter = new gdcm.StringFilter();
        filter.SetFile(file);
        var sopClass = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0016);
        var modality = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0060);
        var described = Describe(sopClass, modality);
        if (!GdcmDataSet.Has(dataSet, 0x7FE0, 0x0010))
        {
            var what = GdcmDataSet.Has(dataSet, 0x5400, 0x0100) ? " (waveform data only)" : "";
            return new DicomRejectedException(DicomRejection.NoPixelData, $"no image pixel data{what}: {described}");
        }

        return new DicomRejectedException(
            DicomRejection.Unsupported,
            $"image attributes missing or inconsistent (Rows, Columns, Bits Allocated, Photometric Interpretation): {described}");
    }

    private static string Describe(string sopClassUid, string modality)
    {
        var name = SopClassName(sopClassUid);
        var sop = sopClassUid.Length == 0 ? "SOP class unknown" : $"SOP class {sopClassUid}{(name.Length > 0 ? $" ({name})" : "")}";
        return modality.Length == 0 ? sop : $"{sop}, modality {modality}";
    }

    /// <summary>GDCM's dictionary name of a UID, e.g. "RT Plan Storage"; "" if unknown.</summary>
    internal static string SopClassName(string uid)
    {
        if (uid.Length == 0)
        {
            return "";
        }

        GdcmRuntime.EnsureInitialized();
        using var uids = new gdcm.UIDs();
        return uids.SetFromUID(uid) ? (uids.GetName() ?? "").Trim() : "";
    }

    private static DicomHeader BuildHeader(gdcm.File file, gdcm.DataSet dataSet, gdcm.StringFilter filter, gdcm.Image image)
    {
        using var meta = file.GetHeader();
        using var transferSyntax = meta.GetDataSetTransferSyntax();
        using var pixelFormat = image.GetPixelFormat();
        var frames = image.GetNumberOfDimensions() > 2 ? (int)image.GetDimension(2) : 1;
        var photometric = GdcmDataSet.GetString(filter, dataSet, 0x0028, 0x0004);
        if (photometric.Length == 0)
        {
            using var pi = image.GetPhotometricInterpretation();
            photometric = pi.GetString()?.Trim() ?? "";
        }

        return new DicomHeader
        {
            StudyInstanceUid = GdcmDataSet.GetString(filter, dataSet, 0x0020, 0x000D),
            SeriesInstanceUid = GdcmDataSet.GetString(filter, dataSet, 0x0020, 0x000E),
            SopInstanceUid = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0018),
            SopClassUid = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0016),
            Modality = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0060),
            BodyPartExamined = GdcmDataSet.GetString(filter, dataSet, 0x0018, 0x0015),
            ViewPosition = GdcmDataSet.GetString(filter, dataSet, 0x0018, 0x5101),
            PresentationIntentType = GdcmDataSet.GetString(filter, dataSet, 0x0008, 0x0068),
            Rows = (int)image.GetDimension(1),
            Columns = (int)image.GetDimension(0),
            NumberOfFrames = frames,
            BitsAllocated = pixelFormat.GetBitsAllocated(),
            BitsStored = pixelFormat.GetBitsStored(),
            HighBit = pixelFormat.GetHighBit(),
            PixelRepresentation = pixelFormat.GetPixelRepresentation(),
            SamplesPerPixel = pixelFormat.GetSamplesPerPixel(),
            PhotometricInterpretation = photometric,
            TransferSyntaxUid = (transferSyntax.GetString() ?? "").Trim().TrimEnd('\0'),
            PlanarConfiguration = GdcmDataSet.GetInt(filter, dataSet, 0x0028, 0x0006, 0),
            RescaleSlope = image.GetSlope() is var slope && slope != 0 && double.IsFinite(slope) ? slope : 1,
            RescaleIntercept = image.GetIntercept() is var intercept && double.IsFinite(intercept) ? intercept : 0,
            WindowCenters = GdcmDataSet.GetDoubles(filter, dataSet, 0x0028, 0x1050),
            WindowWidths = GdcmDataSet.GetDoubles(filter, dataSet, 0x0028, 0x1051),
            VoiLutFunction = GdcmDataSet.GetString(filter, dataSet, 0x0028, 0x1056).ToUpperInvariant(),
            HasVoiLut = GdcmDataSet.Has(dataSet, 0x0028, 0x3010),
            HasModalityLut = GdcmDataSet.Has(dataSet, 0x0028, 0x3000),
            HasPixelData = GdcmDataSet.Has(dataSet, 0x7FE0, 0x0010),
        };
    }

    /// <summary>Header checks that must pass before a single pixel is decoded.</summary>
    private static void Validate(DicomHeader header, DicomLimits limits)
    {
        if (!header.HasPixelData)
        {
            throw new DicomRejectedException(DicomRejection.NoPixelData, $"no image pixel data: {Describe(header.SopClassUid, header.Modality)}");
        }

        if (header.Rows <= 0 || header.Columns <= 0 || header.NumberOfFrames <= 0)
        {
            throw new DicomRejectedException(
                DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"invalid image size {header.Columns}x{header.Rows}x{header.NumberOfFrames}"));
        }

        long pixelsPerFrame = (long)header.Rows * header.Columns;
        long decodedBytes = pixelsPerFrame * header.NumberOfFrames * Math.Max(1, header.SamplesPerPixel) * Math.Max(1, header.BitsAllocated) / 8;
        if (header.Rows > limits.MaxRows || header.Columns > limits.MaxColumns || header.NumberOfFrames > limits.MaxFrames
            || pixelsPerFrame > limits.MaxPixelsPerFrame || decodedBytes > limits.MaxDecodedBytes)
        {
            throw new DicomRejectedException(
                DicomRejection.TooLarge,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"image of {header.Columns}x{header.Rows} pixels x {header.NumberOfFrames} frames ({decodedBytes} decoded bytes) exceeds the limits ({limits.MaxColumns}x{limits.MaxRows}, {limits.MaxFrames} frames, {limits.MaxPixelsPerFrame} pixels per frame, {limits.MaxDecodedBytes} bytes)"));
        }

        if (!SupportedPhotometrics.Contains(header.PhotometricInterpretation))
        {
            throw new DicomRejectedException(DicomRejection.Unsupported, $"unsupported photometric interpretation '{header.PhotometricInterpretation}'");
        }

        var expectedSamples = header.PhotometricInterpretation is "MONOCHROME1" or "MONOCHROME2" or "PALETTE COLOR" ? 1 : 3;
        if (header.SamplesPerPixel != expectedSamples)
        {
            throw new DicomRejectedException(
                DicomRejection.Unsupported,
                string.Create(CultureInfo.InvariantCulture, $"{header.SamplesPerPixel} samples per pixel with photometric interpretation {header.PhotometricInterpretation}"));
        }

        var bitsOk = header.BitsAllocated is 1 or 8 or 16 or 32
            && header.BitsStored >= 1 && header.BitsStored <= header.BitsAllocated
            && header.HighBit >= header.BitsStored - 1 && header.HighBit < header.BitsAllocated
            && !(header.BitsStored == 32 && header.PixelRepresentation == 0)
            && !(expectedSamples == 3 && header.BitsAllocated is 1 or 32);
        if (!bitsOk)
        {
            throw new DicomRejectedException(
                DicomRejection.Unsupported,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"unsupported pixel layout: {header.BitsAllocated} bits allocated, {header.BitsStored} stored, high bit {header.HighBit}, representation {header.PixelRepresentation}, {header.PhotometricInterpretation}"));
        }
    }

    private static DicomLookupTable? ReadModalityLut(gdcm.DataSet dataSet, DicomHeader header)
    {
        if (header.PhotometricInterpretation is not ("MONOCHROME1" or "MONOCHROME2"))
        {
            return null;
        }

        using var item = GdcmDataSet.GetFirstItem(dataSet, 0x0028, 0x3000);
        if (item is null)
        {
            return null;
        }

        return GdcmDataSet.GetLookupTable(item, 0x0028, 0x3002, 0x3006, header.PixelRepresentation == 1)
            ?? throw new DicomRejectedException(DicomRejection.Corrupt, "Modality LUT Sequence without a readable LUT descriptor and data");
    }

    private static DicomLookupTable? ReadVoiLut(gdcm.DataSet dataSet, DicomHeader header, DicomLookupTable? modalityLut)
    {
        if (!header.HasVoiLut)
        {
            return null;
        }

        using var item = GdcmDataSet.GetFirstItem(dataSet, 0x0028, 0x3010);
        if (item is null)
        {
            return null;
        }

        // The first mapped value is in modality-LUT output units, which are signed whenever the
        // stored values are or a rescale can push them below zero.
        var signed = modalityLut is null && (header.PixelRepresentation == 1 || header.RescaleIntercept < 0);
        return GdcmDataSet.GetLookupTable(item, 0x0028, 0x3002, 0x3006, signed);
    }

    private static PaletteTables ReadPalette(gdcm.DataSet dataSet, DicomHeader header)
    {
        var signed = header.PixelRepresentation == 1;
        var red = GdcmDataSet.GetLookupTable(dataSet, 0x0028, 0x1101, 0x1201, signed);
        var green = GdcmDataSet.GetLookupTable(dataSet, 0x0028, 0x1102, 0x1202, signed);
        var blue = GdcmDataSet.GetLookupTable(dataSet, 0x0028, 0x1103, 0x1203, signed);
        if (red is null || green is null || blue is null)
        {
            var segmented = GdcmDataSet.Has(dataSet, 0x0028, 0x1221);
            throw new DicomRejectedException(
                DicomRejection.Unsupported,
                segmented ? "segmented palette colour lookup tables are not supported" : "PALETTE COLOR image without readable palette lookup tables");
        }

        return new PaletteTables(red, green, blue);
    }

    /// <summary>
    /// GDCM pads truncated native pixel data with zeros and reports success, so a short file is
    /// caught here: the Pixel Data value must fit in the file.
    /// </summary>
    private static void CheckNativeLength(string path, long fileLength, gdcm.DataSet dataSet, DicomHeader header)
    {
        var ts = header.TransferSyntaxUid;
        var bigEndian = ts == ExplicitBigEndian;
        var implicitVr = ts == ImplicitLittleEndian;
        if (!(bigEndian || implicitVr || ts == ExplicitLittleEndian))
        {
            return;
        }

        var declared = GdcmDataSet.GetValueLength(dataSet, 0x7FE0, 0x0010);
        if (declared is null)
        {
            return;
        }

        var expected = ExpectedNativeBytes(header);
        if (declared.Value < expected)
        {
            throw new DicomRejectedException(
                DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"pixel data is {declared.Value} bytes, {expected} expected for the declared image size"));
        }

        var valueOffset = FindPixelDataValueOffset(path, declared.Value, bigEndian, implicitVr);
        if (valueOffset is null)
        {
            throw new DicomRejectedException(DicomRejection.Corrupt, "pixel data element not found where expected (truncated or corrupt file)");
        }

        var available = fileLength - valueOffset.Value;
        if (available < expected)
        {
            throw new DicomRejectedException(
                DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"file truncated: pixel data holds {Math.Max(0, available)} of {expected} bytes"));
        }
    }

    private static long ExpectedNativeBytes(DicomHeader header)
    {
        long samples = (long)header.Rows * header.Columns * header.NumberOfFrames * header.SamplesPerPixel;
        if (header.BitsAllocated == 1)
        {
            return (samples + 7) / 8;
        }

        var bytes = samples * (header.BitsAllocated / 8);
        return header.PhotometricInterpretation == "YBR_FULL_422" ? bytes * 2 / 3 : bytes;
    }

    /// <summary>
    /// Finds the file offset of the top-level Pixel Data value by scanning for its tag with the
    /// declared length (the value length makes a false match inside other data practically impossible).
    /// </summary>
    private static long? FindPixelDataValueOffset(string path, uint valueLength, bool bigEndian, bool implicitVr)
    {
        ReadOnlySpan<byte> tag = bigEndian ? [0x7F, 0xE0, 0x00, 0x10] : [0xE0, 0x7F, 0x10, 0x00];
        const int chunk = 1 << 20;
        const int overlap = 12;
        var buffer = ArrayPool<byte>.Shared.Rent(chunk + overlap);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            long bufferStart = 0;
            var filled = 0;
            while (true)
            {
                var read = stream.Read(buffer, filled, chunk + overlap - filled);
                filled += read;
                var span = buffer.AsSpan(0, filled);
                for (var i = span.IndexOf(tag); i >= 0 && i + 12 <= span.Length; i = NextIndex(span, tag, i))
                {
                    if (implicitVr)
                    {
                        if (BinaryPrimitives.ReadUInt32LittleEndian(span[(i + 4)..]) == valueLength)
                        {
                            return bufferStart + i + 8;
                        }
                    }
                    else if (span[i + 4] == (byte)'O' && span[i + 5] is (byte)'B' or (byte)'W' && span[i + 6] == 0 && span[i + 7] == 0)
                    {
                        var length = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(span[(i + 8)..]) : BinaryPrimitives.ReadUInt32LittleEndian(span[(i + 8)..]);
                        if (length == valueLength)
                        {
                            return bufferStart + i + 12;
                        }
                    }
                }

                if (read == 0)
                {
                    return null;
                }

                // Keep the tail so that a header straddling two chunks is still seen.
                var keep = Math.Min(overlap, filled);
                buffer.AsSpan(filled - keep, keep).CopyTo(buffer);
                bufferStart += filled - keep;
                filled = keep;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int NextIndex(ReadOnlySpan<byte> span, ReadOnlySpan<byte> tag, int previous)
    {
        var next = span[(previous + 1)..].IndexOf(tag);
        return next < 0 ? -1 : previous + 1 + next;
    }

    /// <summary>Brings GDCM's buffer to the layout DicomFile expects (full-resolution samples).</summary>
    private static byte[] NormalizeLayout(byte[] buffer, DicomHeader header, ref string photometric)
    {
        long pixels = (long)header.Rows * header.Columns * header.NumberOfFrames;
        if (photometric == "YBR_FULL_422" && header.BitsAllocated == 8 && buffer.LongLength == pixels * 2)
        {
            // Native 4:2:2 left as is by the codec: Y0 Y1 Cb Cr per pixel pair; expand to Y Cb Cr per pixel.
            var expanded = GC.AllocateUninitializedArray<byte>(checked((int)(pixels * 3)));
            DicomPixelMath.ExpandYbr422(buffer, expanded, header.Columns, header.Rows * header.NumberOfFrames);
            photometric = "YBR_FULL";
            return expanded;
        }

        if (photometric == "YBR_FULL_422")
        {
            // GDCM expanded the chroma already (3 samples per pixel): only the name is stale.
            photometric = "YBR_FULL";
        }

        var samples = pixels * header.SamplesPerPixel;
        var expected = header.BitsAllocated == 1 ? (samples + 7) / 8 : samples * (header.BitsAllocated / 8);
        if (buffer.LongLength < expected)
        {
            throw new DicomRejectedException(
                DicomRejection.Corrupt,
                string.Create(CultureInfo.InvariantCulture, $"decoder returned {buffer.LongLength} bytes, {expected} expected"));
        }

        return buffer;
    }
}
