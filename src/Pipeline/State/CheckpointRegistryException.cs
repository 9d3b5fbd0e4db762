namespace PaliGemma2.DocPipeline.Pipeline.State;

/// <summary>The checkpoint registry refuses a change: an unknown checkpoint, or a name and version taken by other files.</summary>
public sealed class CheckpointRegistryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointRegistryException()
    {
    }

    /// <summary>Creates the exception with a message naming what is wrong.</summary>
    public CheckpointRegistryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public CheckpointRegistryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
