using System.Reflection;
using System.Runtime.InteropServices;

namespace PaliGemma2.DocPipeline.Documents.Dicom;

/// <summary>
/// Makes GDCM's SWIG binding loadable on .NET: Debian ships the native glue next to the managed
/// assembly under /usr/lib/cli, where the default probing never looks.
/// </summary>
internal static class GdcmRuntime
{
    /// <summary>Overrides the location of libgdcmsharpglue.so (a file path).</summary>
    public const string GluePathVariable = "DOCPIPE_GDCM_GLUE";

    private const string GlueName = "gdcmsharpglue";

    private static readonly string[] CandidatePaths =
    [
        "/usr/lib/cli/gdcm-sharp-3.0/libgdcmsharpglue.so",
        "/usr/lib/x86_64-linux-gnu/libgdcmsharpglue.so",
        "/usr/lib/aarch64-linux-gnu/libgdcmsharpglue.so",
    ];

    private static readonly Lazy<bool> Initialized = new(Initialize, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the resolver (once per process) and silences GDCM's stderr chatter.</summary>
    public static void EnsureInitialized() => _ = Initialized.Value;

    private static bool Initialize()
    {
        // SetDllImportResolver throws if called twice for an assembly; the Lazy guarantees once.
        NativeLibrary.SetDllImportResolver(typeof(gdcm.ImageReader).Assembly, Resolve);

        try
        {
            // GDCM writes warnings such as "Incomplete Pixel Data found" to stderr; we surface problems as
            // typed exceptions instead, and stderr lines could end up next to identifiable file names in logs.
            gdcm.Trace.WarningOff();
            gdcm.Trace.DebugOff();
            gdcm.Trace.ErrorOff();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            // A deployment problem, not a bad file: say what to install rather than blame the input.
            throw new InvalidOperationException(
                $"GDCM's native glue (libgdcmsharpglue.so) could not be loaded; install the Debian package libgdcm-cil or set {GluePathVariable}",
                e);
        }

        return true;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!string.Equals(libraryName, GlueName, StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in Candidates())
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out var handle))
            {
                return handle;
            }
        }

        // Fall back to the loader's own search (LD_LIBRARY_PATH, ldconfig cache).
        return NativeLibrary.TryLoad("lib" + GlueName + ".so", assembly, searchPath, out var fallback) ? fallback : IntPtr.Zero;
    }

    private static IEnumerable<string> Candidates()
    {
        var overridePath = Environment.GetEnvironmentVariable(GluePathVariable);
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            yield return overridePath;
        }

        yield return Path.Combine(AppContext.BaseDirectory, "lib" + GlueName + ".so");
        foreach (var path in CandidatePaths)
        {
            yield return path;
        }
    }
}
